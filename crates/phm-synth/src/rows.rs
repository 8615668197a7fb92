//! Turning a simulated patient into CSV rows, written as real feeds write them (messy ICD-10
//! codes, occasional spaced NHS numbers) and with defects injected at the configured rate.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

use phm_contract::{ColumnType, Contract};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::codes::{self, MEDICINES};
use crate::date;
use crate::model::Patient;
use crate::world::{self, World};

/// The extracts the generator writes, in file-index order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Extract {
    /// GP registrations.
    GpRegistrations,
    /// GP events.
    GpEvents,
    /// GP medications.
    GpMedications,
    /// Admitted patient care.
    Apc,
    /// Outpatients.
    Op,
    /// Emergency care.
    Ecds,
    /// Ambulance.
    Ambulance,
    /// Community services.
    Community,
    /// Mental health services.
    MentalHealth,
    /// National data opt-out list.
    NationalOptOut,
}

impl Extract {
    /// All extracts.
    pub const ALL: [Extract; 10] = [
        Extract::GpRegistrations,
        Extract::GpEvents,
        Extract::GpMedications,
        Extract::Apc,
        Extract::Op,
        Extract::Ecds,
        Extract::Ambulance,
        Extract::Community,
        Extract::MentalHealth,
        Extract::NationalOptOut,
    ];

    /// The contract name.
    pub fn name(self) -> &'static str {
        match self {
            Extract::GpRegistrations => "gp_registrations",
            Extract::GpEvents => "gp_events",
            Extract::GpMedications => "gp_medications",
            Extract::Apc => "apc",
            Extract::Op => "op",
            Extract::Ecds => "ecds",
            Extract::Ambulance => "ambulance",
            Extract::Community => "community",
            Extract::MentalHealth => "mental_health",
            Extract::NationalOptOut => "national_opt_out",
        }
    }

    /// The columns the generator writes, which must equal the contract's.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Extract::GpRegistrations => &[
                "nhs_number",
                "practice_code",
                "given_name",
                "family_name",
                "date_of_birth",
                "sex",
                "postcode",
                "registration_start",
                "registration_end",
                "registration_end_reason",
            ],
            Extract::GpEvents => &[
                "nhs_number",
                "practice_code",
                "event_date",
                "snomed_concept_id",
                "numeric_value",
            ],
            Extract::GpMedications => &[
                "nhs_number",
                "practice_code",
                "issue_date",
                "dmd_code",
                "bnf_code",
                "quantity",
            ],
            Extract::Apc => &[
                "nhs_number",
                "provider_code",
                "local_patient_id",
                "spell_id",
                "episode_number",
                "admission_date",
                "discharge_date",
                "admission_method",
                "primary_diagnosis",
                "secondary_diagnoses",
            ],
            Extract::Op => &[
                "nhs_number",
                "provider_code",
                "local_patient_id",
                "appointment_date",
                "treatment_function_code",
                "attendance_status",
            ],
            Extract::Ecds => &[
                "nhs_number",
                "provider_code",
                "local_patient_id",
                "arrival_date",
                "arrival_mode",
                "chief_complaint",
                "discharge_destination",
            ],
            Extract::Ambulance => &[
                "nhs_number",
                "provider_code",
                "incident_date",
                "category",
                "conveyed",
            ],
            Extract::Community => &["nhs_number", "provider_code", "contact_date", "team_type"],
            Extract::MentalHealth => &[
                "nhs_number",
                "provider_code",
                "contact_date",
                "service_type",
            ],
            Extract::NationalOptOut => &["nhs_number"],
        }
    }

    /// Organisations of the same kind, other than `own`, for `wrong_submitter` rows.
    fn other_organisations(self, world: &World, own: &str) -> Vec<String> {
        let (ours, outside): (Vec<String>, &str) = match self {
            Extract::GpRegistrations | Extract::GpEvents | Extract::GpMedications => (
                world.practices.iter().map(|p| p.code.clone()).collect(),
                world::OUTSIDE_PRACTICE,
            ),
            Extract::Apc | Extract::Op | Extract::Ecds => (
                world::ACUTE_TRUSTS
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                world::OUTSIDE_ACUTE,
            ),
            Extract::Ambulance => (vec![], world::OUTSIDE_AMBULANCE),
            Extract::Community => (vec![], world::OUTSIDE_COMMUNITY),
            Extract::MentalHealth => (vec![], world::OUTSIDE_MENTAL_HEALTH),
            Extract::NationalOptOut => (vec![], ""),
        };
        let mut all: Vec<String> = ours.into_iter().filter(|c| c != own).collect();
        all.push(outside.to_owned());
        all
    }
}

/// A kind of injected defect. Most are quarantined by ingest; three must be handled and kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum DefectKind {
    /// Ten digits failing Modulus 11.
    NhsNumberInvalidCheckDigit,
    /// Nine or eleven digits.
    NhsNumberWrongLength,
    /// A valid number written `999 123 4567` (kept after normalising).
    NhsNumberSpaced,
    /// A required field left empty.
    MissingRequired,
    /// A date that is not a date in the contract's format.
    DateUnparseable,
    /// A date after the extract date.
    DateInFuture,
    /// The organisation column names another organisation.
    WrongSubmitter,
    /// An exact copy of the row before it.
    DuplicateRow,
    /// Names written in ISO 8859-1 in a UTF-8 file.
    Encoding,
    /// The file starts with a UTF-8 byte order mark (kept).
    Utf8Bom,
    /// The file ends its lines with CR LF (kept).
    CrlfLineEnds,
}

impl DefectKind {
    /// Kind code in `truth/defects.csv`.
    pub fn code(self) -> &'static str {
        match self {
            DefectKind::NhsNumberInvalidCheckDigit => "nhs_number_invalid_check_digit",
            DefectKind::NhsNumberWrongLength => "nhs_number_wrong_length",
            DefectKind::NhsNumberSpaced => "nhs_number_spaced",
            DefectKind::MissingRequired => "missing_required",
            DefectKind::DateUnparseable => "date_unparseable",
            DefectKind::DateInFuture => "date_in_future",
            DefectKind::WrongSubmitter => "wrong_submitter",
            DefectKind::DuplicateRow => "duplicate_row",
            DefectKind::Encoding => "encoding",
            DefectKind::Utf8Bom => "utf8_bom",
            DefectKind::CrlfLineEnds => "crlf_line_ends",
        }
    }

    /// The quarantine reason ingest must give, or `None` when the row must be kept.
    pub fn expected_reason(self) -> Option<phm_contract::Reason> {
        use phm_contract::Reason as R;
        match self {
            DefectKind::NhsNumberInvalidCheckDigit => Some(R::NhsNumberInvalidCheckDigit),
            DefectKind::NhsNumberWrongLength => Some(R::NhsNumberWrongLength),
            DefectKind::MissingRequired => Some(R::MissingRequired),
            DefectKind::DateUnparseable => Some(R::DateUnparseable),
            DefectKind::DateInFuture => Some(R::DateInFuture),
            DefectKind::WrongSubmitter => Some(R::WrongSubmitter),
            DefectKind::DuplicateRow => Some(R::DuplicateRow),
            DefectKind::Encoding => Some(R::Encoding),
            DefectKind::NhsNumberSpaced | DefectKind::Utf8Bom | DefectKind::CrlfLineEnds => None,
        }
    }
}

/// What the defect injector needs to know about an extract's columns, from its contract.
pub struct Layout {
    /// Which extract.
    pub extract: Extract,
    nhs: usize,
    submitter: Option<usize>,
    required: Vec<usize>,
    dates: Vec<(usize, bool)>,
    names: Vec<usize>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of this extract get defects this many times the base rate.
    rate_multiplier: f64,
}

impl Layout {
    /// Build from the contract, checking the generator writes the contract's columns.
    pub fn new(extract: Extract, contract: &Contract) -> Result<Self, crate::SynthError> {
        let names = contract.column_names();
        if names != extract.columns() {
            return Err(crate::SynthError::Contract(format!(
                "schemas/{}.toml has columns {}, but the generator writes {}",
                contract.name,
                names.join(", "),
                extract.columns().join(", ")
            )));
        }
        let idx = |pred: &dyn Fn(&phm_contract::Column) -> bool| -> Vec<usize> {
            contract
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| pred(c))
                .map(|(i, _)| i)
                .collect()
        };
        Ok(Layout {
            extract,
            nhs: contract.nhs_number_index(),
            submitter: contract.submitter_index(),
            required: idx(&|c| c.required),
            dates: contract
                .columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.kind == ColumnType::Date)
                .map(|(i, c)| (i, c.format.as_deref() == Some("%d/%m/%Y")))
                .collect(),
            names: idx(&|c| c.name.ends_with("_name")),
            columns: contract.columns.iter().map(|c| c.name.clone()).collect(),
            rate_multiplier: if extract == Extract::GpRegistrations {
                10.0
            } else {
                1.0
            },
        })
    }

    fn writes_dmy(&self, column: usize) -> bool {
        self.dates.iter().any(|(i, dmy)| *i == column && *dmy)
    }
}

/// A row being built: fields in one buffer.
#[derive(Default, Clone)]
pub struct Row {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl Row {
    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.ends.push(self.buf.len());
    }
    fn push_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.buf);
        self.ends.push(self.buf.len());
    }
    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.buf[start..self.ends[i]]
    }
    fn set(&mut self, i: usize, value: &[u8]) {
        let fields: Vec<Vec<u8>> = (0..self.ends.len())
            .map(|j| {
                if j == i {
                    value.to_vec()
                } else {
                    self.get(j).to_vec()
                }
            })
            .collect();
        self.clear();
        for f in fields {
            self.push(&f);
        }
    }
    fn write_csv(&self, out: &mut Vec<u8>) {
        for i in 0..self.ends.len() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(self.get(i));
        }
        out.push(b'\n');
    }
    fn hash(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.buf.hash(&mut h);
        self.ends.hash(&mut h);
        h.finish()
    }
}

/// A defect on a row of a chunk's file buffer.
pub struct RowDefect {
    /// File index.
    pub file: usize,
    /// Row index within the chunk's buffer for that file (0-based).
    pub row: u64,
    /// Kind.
    pub kind: DefectKind,
    /// Column damaged, if one.
    pub column: Option<usize>,
}

/// Rows of a range of patients, per file, with their defects.
pub struct ChunkRows {
    /// Bytes per file.
    pub files: Vec<Vec<u8>>,
    /// Rows per file.
    pub rows: Vec<u64>,
    /// Defects.
    pub defects: Vec<RowDefect>,
}

impl ChunkRows {
    /// Empty buffers for `n` files.
    pub fn new(n: usize) -> Self {
        ChunkRows {
            files: vec![Vec::new(); n],
            rows: vec![0; n],
            defects: Vec::new(),
        }
    }
}

/// Where each (extract, organisation) file sits in the file list.
pub struct FileIndex {
    practices: usize,
}

impl FileIndex {
    /// For a world.
    pub fn new(world: &World) -> Self {
        FileIndex {
            practices: world.practices.len(),
        }
    }
    /// Total number of files.
    pub fn len(&self) -> usize {
        3 * self.practices + 3 * world::ACUTE_TRUSTS.len() + 4
    }
    /// Whether there are no files (never).
    pub fn is_empty(&self) -> bool {
        false
    }
    /// A GP extract's file for a practice.
    pub fn gp(&self, e: Extract, practice: usize) -> usize {
        let k = match e {
            Extract::GpRegistrations => 0,
            Extract::GpEvents => 1,
            _ => 2,
        };
        k * self.practices + practice
    }
    /// An acute extract's file for a trust.
    pub fn acute(&self, e: Extract, trust: usize) -> usize {
        let k = match e {
            Extract::Apc => 0,
            Extract::Op => 1,
            _ => 2,
        };
        3 * self.practices + k * world::ACUTE_TRUSTS.len() + trust
    }
    /// A single-organisation extract's file.
    pub fn single(&self, e: Extract) -> usize {
        let base = 3 * self.practices + 3 * world::ACUTE_TRUSTS.len();
        base + match e {
            Extract::Ambulance => 0,
            Extract::Community => 1,
            Extract::MentalHealth => 2,
            _ => 3,
        }
    }
    /// The extract and organisation code of a file.
    pub fn describe(&self, world: &World, file: usize) -> (Extract, String) {
        let p = self.practices;
        let t = world::ACUTE_TRUSTS.len();
        if file < 3 * p {
            let e = [
                Extract::GpRegistrations,
                Extract::GpEvents,
                Extract::GpMedications,
            ][file / p];
            (e, world.practices[file % p].code.clone())
        } else if file < 3 * p + 3 * t {
            let f = file - 3 * p;
            (
                [Extract::Apc, Extract::Op, Extract::Ecds][f / t],
                world::ACUTE_TRUSTS[f % t].to_owned(),
            )
        } else {
            match file - 3 * p - 3 * t {
                0 => (Extract::Ambulance, world::AMBULANCE_SERVICE.to_owned()),
                1 => (Extract::Community, world::COMMUNITY_PROVIDER.to_owned()),
                2 => (Extract::MentalHealth, world::MENTAL_HEALTH_TRUST.to_owned()),
                _ => (Extract::NationalOptOut, world::NHS_ENGLAND.to_owned()),
            }
        }
    }
}

/// Writes one patient's rows into a chunk.
pub struct RowWriter<'a> {
    world: &'a World,
    layouts: &'a [Layout],
    index: &'a FileIndex,
    orgs: &'a [String],
    others: &'a [Vec<String>],
    row: Row,
    seen: HashSet<(usize, u64)>,
}

impl<'a> RowWriter<'a> {
    /// A writer for a world.
    pub fn new(
        world: &'a World,
        layouts: &'a [Layout],
        index: &'a FileIndex,
        orgs: &'a [String],
        others: &'a [Vec<String>],
    ) -> Self {
        RowWriter {
            world,
            layouts,
            index,
            orgs,
            others,
            row: Row::default(),
            seen: HashSet::new(),
        }
    }

    /// Organisation code and wrong-submitter candidates per file.
    pub fn organisations(world: &World, index: &FileIndex) -> (Vec<String>, Vec<Vec<String>>) {
        (0..index.len())
            .map(|f| {
                let (e, org) = index.describe(world, f);
                let others = e.other_organisations(world, &org);
                (org, others)
            })
            .unzip()
    }

    fn start(&mut self, p: &Patient, org: &str) {
        self.row.clear();
        self.row.push(p.nhs.to_string().as_bytes());
        self.row.push(org.as_bytes());
    }

    /// Emit every row of a patient.
    pub fn patient(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        self.seen.clear();
        self.registrations(p, rng, out);
        self.gp_events(p, rng, out);
        self.medications(p, rng, out);
        self.spells(p, rng, out);
        self.outpatients(p, rng, out);
        self.attendances(p, rng, out);
        self.services(p, rng, out);
        if p.national_opt_out {
            let f = self.index.single(Extract::NationalOptOut);
            self.row.clear();
            self.row.push(p.nhs.to_string().as_bytes());
            self.row.write_csv(&mut out.files[f]);
            out.rows[f] += 1;
        }
    }

    fn registrations(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        for (k, r) in p.registrations.iter().enumerate() {
            let f = self.index.gp(Extract::GpRegistrations, r.practice);
            self.start(p, &self.orgs[f].clone());
            self.row.push(p.given.as_bytes());
            self.row.push(p.family.as_bytes());
            self.row.push_with(|b| date::write_iso(b, p.dob));
            self.row.push(&[p.sex]);
            self.row.push(p.postcode.as_bytes());
            self.row.push_with(|b| date::write_iso(b, r.start));
            if let Some((d, reason)) = r.end {
                self.row.push_with(|b| date::write_iso(b, d));
                self.row.push(reason.code().as_bytes());
            } else {
                self.row.push(b"");
                self.row.push(b"");
            }
            // The first registration keeps its NHS number intact, so every patient can be
            // found in some practice's registrations.
            self.emit(f, 0, k == 0, rng, out);
        }
    }

    fn gp_events(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        let mut events: Vec<&(usize, crate::model::GpEvent)> = p.gp_events.iter().collect();
        events.sort_by_key(|(_, e)| e.date);
        for (practice, e) in events {
            let f = self.index.gp(Extract::GpEvents, *practice);
            self.start(p, &self.orgs[f].clone());
            self.row.push_with(|b| date::write_iso(b, e.date));
            self.row.push(e.code.as_bytes());
            match e.value {
                Some(v) => self.row.push_with(|b| write_tenths(b, v)),
                None => self.row.push(b""),
            }
            self.emit(f, 1, false, rng, out);
        }
    }

    fn medications(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        let mut meds = p.medications.clone();
        meds.sort_by_key(|(_, d, m)| (*d, *m));
        for (practice, day, m) in meds {
            let f = self.index.gp(Extract::GpMedications, practice);
            self.start(p, &self.orgs[f].clone());
            self.row.push_with(|b| date::write_iso(b, day));
            self.row.push(codes::dmd_code(m).as_bytes());
            self.row.push(MEDICINES[m].bnf.as_bytes());
            self.row.push(MEDICINES[m].quantity.to_string().as_bytes());
            self.emit(f, 2, false, rng, out);
        }
    }

    fn spells(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        for (k, s) in p.spells.iter().enumerate() {
            let f = self.index.acute(Extract::Apc, s.trust);
            let spell_id = spell_id(p.index, k);
            for (e, (primary, secondary)) in s.episodes.iter().enumerate() {
                self.start(p, &self.orgs[f].clone());
                self.row.push(local_patient_id(p.index, s.trust).as_bytes());
                self.row.push(spell_id.as_bytes());
                self.row.push((e + 1).to_string().as_bytes());
                self.row.push_with(|b| date::write_iso(b, s.admitted));
                match s.discharged {
                    Some(d) => self.row.push_with(|b| date::write_iso(b, d)),
                    None => self.row.push(b""),
                }
                self.row.push(s.method.as_bytes());
                let mut field = Vec::new();
                messy_icd(primary, rng, &mut field);
                self.row.push(&field);
                field.clear();
                for (i, code) in secondary.iter().enumerate() {
                    if i > 0 {
                        field.push(b';');
                    }
                    messy_icd(code, rng, &mut field);
                }
                self.row.push(&field);
                self.emit(f, 3, false, rng, out);
            }
        }
    }

    fn outpatients(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        let mut appts: Vec<_> = p.outpatients.iter().collect();
        appts.sort_by_key(|(_, d, _, _)| *d);
        for (trust, day, tf, status) in appts {
            let f = self.index.acute(Extract::Op, *trust);
            self.start(p, &self.orgs[f].clone());
            self.row.push(local_patient_id(p.index, *trust).as_bytes());
            self.row.push_with(|b| date::write_iso(b, *day));
            self.row.push(tf.as_bytes());
            self.row.push(status.as_bytes());
            self.emit(f, 4, false, rng, out);
        }
    }

    fn attendances(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        let mut atts: Vec<_> = p.attendances.iter().collect();
        atts.sort_by_key(|a| a.date);
        for a in atts {
            let f = self.index.acute(Extract::Ecds, a.trust);
            self.start(p, &self.orgs[f].clone());
            self.row.push(local_patient_id(p.index, a.trust).as_bytes());
            self.row.push_with(|b| date::write_iso(b, a.date));
            self.row.push(a.mode.as_bytes());
            self.row.push(a.complaint.as_bytes());
            self.row.push(a.destination.as_bytes());
            self.emit(f, 5, false, rng, out);
        }
    }

    fn services(&mut self, p: &Patient, rng: &mut ChaCha8Rng, out: &mut ChunkRows) {
        let mut amb = p.ambulance.clone();
        amb.sort_unstable();
        let f = self.index.single(Extract::Ambulance);
        for (day, cat, conveyed) in amb {
            self.start(p, &self.orgs[f].clone());
            self.row.push_with(|b| date::write_dmy(b, day));
            self.row.push(&[b'0' + cat]);
            self.row.push(if conveyed { b"Y" } else { b"N" });
            self.emit(f, 6, false, rng, out);
        }
        for (extract, layout, contacts) in [
            (Extract::Community, 7, &p.community),
            (Extract::MentalHealth, 8, &p.mental_health),
        ] {
            let mut contacts = contacts.clone();
            contacts.sort_unstable();
            let f = self.index.single(extract);
            for (day, kind) in contacts {
                self.start(p, &self.orgs[f].clone());
                self.row.push_with(|b| date::write_iso(b, day));
                self.row.push(kind.as_bytes());
                self.emit(f, layout, false, rng, out);
            }
        }
    }

    /// Write the current row to file `f`, perhaps with a defect.
    fn emit(
        &mut self,
        f: usize,
        layout: usize,
        protect_nhs: bool,
        rng: &mut ChaCha8Rng,
        out: &mut ChunkRows,
    ) {
        // Identical rows for one patient (two identical contacts on a day) are not written
        // twice: the only duplicates in an extract are the injected ones.
        if !self.seen.insert((f, self.row.hash())) {
            return;
        }
        let layout = &self.layouts[layout];
        let rate = self.world.cfg.defect_rate * layout.rate_multiplier;
        let mut defect = None;
        if rate > 0.0 && rng.random::<f64>() < rate {
            let clean = self.row.clone();
            defect = self.damage(layout, f, protect_nhs, rng);
            if defect.is_none() {
                self.row = clean;
            }
        }
        let row_no = out.rows[f];
        self.row.write_csv(&mut out.files[f]);
        out.rows[f] += 1;
        match defect {
            Some((DefectKind::DuplicateRow, _)) => {
                self.row.write_csv(&mut out.files[f]);
                out.rows[f] += 1;
                out.defects.push(RowDefect {
                    file: f,
                    row: row_no + 1,
                    kind: DefectKind::DuplicateRow,
                    column: None,
                });
            }
            Some((kind, column)) => out.defects.push(RowDefect {
                file: f,
                row: row_no,
                kind,
                column,
            }),
            None => {}
        }
    }

    /// Damage the current row; returns what was done, or `None` if the drawn kind does not
    /// apply to this row.
    fn damage(
        &mut self,
        layout: &Layout,
        f: usize,
        protect_nhs: bool,
        rng: &mut ChaCha8Rng,
    ) -> Option<(DefectKind, Option<usize>)> {
        use DefectKind as K;
        let registrations = layout.extract == Extract::GpRegistrations;
        let kinds: &[(K, f64)] = &[
            (K::NhsNumberInvalidCheckDigit, 0.11),
            (K::NhsNumberWrongLength, 0.08),
            (K::NhsNumberSpaced, 0.11),
            (K::MissingRequired, 0.16),
            (K::DateUnparseable, 0.12),
            (K::DateInFuture, 0.08),
            (K::WrongSubmitter, 0.10),
            (K::DuplicateRow, 0.14),
            (K::Encoding, if registrations { 0.25 } else { 0.0 }),
        ];
        let total: f64 = kinds.iter().map(|(_, w)| w).sum();
        let mut x = rng.random::<f64>() * total;
        let mut kind = K::DuplicateRow;
        for (k, w) in kinds {
            if x < *w {
                kind = *k;
                break;
            }
            x -= w;
        }
        let nhs = layout.nhs;
        match kind {
            K::NhsNumberInvalidCheckDigit | K::NhsNumberWrongLength if protect_nhs => None,
            K::NhsNumberInvalidCheckDigit => {
                let mut digits = self.row.get(nhs).to_vec();
                let last = digits[9] - b'0';
                digits[9] = b'0' + (last + rng.random_range(1..10u8)) % 10;
                self.row.set(nhs, &digits);
                Some((kind, Some(nhs)))
            }
            K::NhsNumberWrongLength => {
                let mut digits = self.row.get(nhs).to_vec();
                if rng.random::<bool>() {
                    digits.pop();
                } else {
                    digits.push(b'0' + rng.random_range(0..10u8));
                }
                self.row.set(nhs, &digits);
                Some((kind, Some(nhs)))
            }
            K::NhsNumberSpaced => {
                let d = self.row.get(nhs).to_vec();
                let sep: &[u8] = if rng.random::<f64>() < 0.8 {
                    b" "
                } else {
                    b"-"
                };
                let spaced = [&d[..3], sep, &d[3..6], sep, &d[6..]].concat();
                self.row.set(nhs, &spaced);
                Some((kind, Some(nhs)))
            }
            K::MissingRequired => {
                let candidates: Vec<usize> = layout
                    .required
                    .iter()
                    .copied()
                    .filter(|&i| Some(i) != layout.submitter && !(protect_nhs && i == nhs))
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                let c = candidates[rng.random_range(0..candidates.len())];
                self.row.set(c, b"");
                Some((kind, Some(c)))
            }
            K::DateUnparseable | K::DateInFuture => {
                let candidates: Vec<usize> = layout
                    .dates
                    .iter()
                    .map(|(i, _)| *i)
                    .filter(|&i| !self.row.get(i).is_empty())
                    .collect();
                if candidates.is_empty() {
                    return None;
                }
                let c = candidates[rng.random_range(0..candidates.len())];
                let dmy = layout.writes_dmy(c);
                let value: Vec<u8> = if kind == K::DateInFuture {
                    let day = self.world.extract_date + rng.random_range(30..3000);
                    let mut b = Vec::new();
                    if dmy {
                        date::write_dmy(&mut b, day);
                    } else {
                        date::write_iso(&mut b, day);
                    }
                    b
                } else {
                    let bad: &[&str] = if dmy {
                        &[
                            "2023-01-15",
                            "31/02/2023",
                            "32/01/2023",
                            "unknown",
                            "00/00/0000",
                        ]
                    } else {
                        &[
                            "2023-02-30",
                            "2023-13-01",
                            "15/01/2023",
                            "not known",
                            "0000-00-00",
                        ]
                    };
                    bad[rng.random_range(0..bad.len())].as_bytes().to_vec()
                };
                self.row.set(c, &value);
                Some((kind, Some(c)))
            }
            K::WrongSubmitter => {
                let col = layout.submitter?;
                let others = &self.others[f];
                let other = &others[rng.random_range(0..others.len())];
                self.row.set(col, other.as_bytes());
                Some((kind, Some(col)))
            }
            K::DuplicateRow => Some((kind, None)),
            K::Encoding => {
                let col = *layout
                    .names
                    .get(rng.random_range(0..layout.names.len().max(1)))?;
                let name = codes::LATIN1_NAMES[rng.random_range(0..codes::LATIN1_NAMES.len())];
                self.row.set(col, name);
                Some((kind, Some(col)))
            }
            K::Utf8Bom | K::CrlfLineEnds => None,
        }
    }
}

/// The trust's hospital number for a patient (a bijection of the patient index).
pub fn local_patient_id(patient: usize, trust: usize) -> String {
    let x = (patient as u64 + 7_919 * (trust as u64 + 1)).wrapping_mul(2_654_435_761) % 100_000_000;
    format!("{}{x:08}", ["H", "K", "M"][trust % 3])
}

/// A provider spell number, unique across patients.
pub fn spell_id(patient: usize, k: usize) -> String {
    // Twelve digits: no ten-digit run that could be mistaken for an NHS number.
    let n = (patient as u64 * 64 + (k as u64 % 64) + 12_345).wrapping_mul(2_654_435_761)
        % 1_000_000_000_000;
    format!("S{n:012}")
}

fn write_tenths(b: &mut Vec<u8>, v: i32) {
    let whole = v / 10;
    let frac = v % 10;
    b.extend_from_slice(whole.to_string().as_bytes());
    if frac != 0 {
        b.push(b'.');
        b.push(b'0' + frac as u8);
    }
}

/// Write an ICD-10 code the way feeds do: with or without the dot, lower case, `X` or `-`
/// filling a three-character code, padding, and dagger/asterisk marks on the dual-coded
/// dementia and diabetic neuropathy pairs.
pub fn messy_icd(code: &str, rng: &mut ChaCha8Rng, out: &mut Vec<u8>) {
    let (cat, sub) = match code.split_once('.') {
        Some((c, s)) => (c, Some(s)),
        None => (code, None),
    };
    let roll: f64 = rng.random();
    let mut text = match sub {
        Some(s) => match roll {
            r if r < 0.30 => format!("{cat}.{s}"),
            r if r < 0.75 => format!("{cat}{s}"),
            r if r < 0.80 => format!("{}{s}", cat.to_lowercase()),
            r if r < 0.83 => format!("{}.{s}", cat.to_lowercase()),
            r if r < 0.88 => format!(" {cat}{s}"),
            r if r < 0.94 => format!("{cat}{s}  "),
            _ => format!("{cat}.{s} "),
        },
        None => match roll {
            r if r < 0.35 => cat.to_owned(),
            r if r < 0.70 => format!("{cat}X"),
            r if r < 0.80 => format!("{cat}-"),
            r if r < 0.85 => cat.to_lowercase(),
            r if r < 0.90 => format!("{cat}.X"),
            r if r < 0.95 => format!("{cat} "),
            _ => format!("{cat}x"),
        },
    };
    let asterisk = matches!(cat, "F00" | "G63");
    let dagger = cat == "G30" || code == "E11.4";
    if asterisk || dagger {
        let trimmed = text.trim_end().to_owned();
        let mark = match (asterisk, rng.random_range(0..10)) {
            (true, 0..=4) => "*",
            (true, 5..=7) => "A",
            (false, 0..=3) => "\u{2020}",
            (false, 4..=6) => "D",
            _ => "",
        };
        text = format!("{trimmed}{mark}");
    }
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn messy_codes_keep_the_code() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut forms = HashSet::new();
        for _ in 0..2000 {
            for code in ["I50.0", "I10", "G30.9", "F00.9"] {
                let mut b = Vec::new();
                messy_icd(code, &mut rng, &mut b);
                let s = String::from_utf8(b).unwrap();
                let norm: String = s
                    .trim()
                    .to_uppercase()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                let want: String = code.chars().filter(char::is_ascii_alphanumeric).collect();
                assert!(norm.starts_with(&want), "{s:?} from {code}");
                forms.insert(s);
            }
        }
        for expected in ["I50.0", "I500", "i500", "I10X", "I10-", "i10"] {
            assert!(forms.contains(expected), "never wrote {expected}");
        }
        assert!(forms.iter().any(|f| f.ends_with('\u{2020}')));
        assert!(forms.iter().any(|f| f.ends_with('*')));
    }

    #[test]
    fn hospital_numbers_and_spell_ids_do_not_collide() {
        let ids: HashSet<String> = (0..50_000).map(|i| local_patient_id(i, 1)).collect();
        assert_eq!(ids.len(), 50_000);
        let spells: HashSet<String> = (0..20_000)
            .flat_map(|i| (0..3).map(move |k| spell_id(i, k)))
            .collect();
        assert_eq!(spells.len(), 60_000);
    }
}
