//! One patient's life over the simulated window: who they are, where they are registered,
//! which conditions and frailty deficits they have, and every contact with services.
//!
//! The model, in order: age and sex from ONS; practice and neighbourhood; a shared morbidity
//! factor; long-term conditions from calibrated logistic models of age, deprivation and
//! morbidity, each with an onset date; a latent frailty that drives eFI deficits; then, year
//! by year, death, moves, and activity as Poisson processes whose rates depend on the state at
//! the start of the year. The emergency admission rate is the documented model of
//! [`emergency_rate`]; its value at the start of each year is the patient's true risk.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson};

use crate::codes::{self, CONDITIONS, DEFICITS};
use crate::date::{self, Day};
use crate::params::{
    EMERGENCY_ADMISSIONS_BY_AGE, MALE_SHARE, NATIONAL_OPT_OUT_RATE, PROGRAMME_OPT_OUT_RATE,
    TYPE1_OPT_OUT_RATE, TYPE1_WITHDRAWAL_SHARE,
};
use crate::world::{self, World, sigmoid};

/// Why a registration ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EndReason {
    /// The patient died.
    Died,
    /// The patient moved to another practice of the ICB.
    Transferred,
    /// The patient left the ICB's area.
    MovedAway,
}

impl EndReason {
    /// Code written in the extract.
    pub fn code(self) -> &'static str {
        match self {
            EndReason::Died => "died",
            EndReason::Transferred => "transferred",
            EndReason::MovedAway => "moved_away",
        }
    }
}

/// A registration period.
#[derive(Clone, Debug)]
pub struct Registration {
    /// Practice index.
    pub practice: usize,
    /// First day.
    pub start: Day,
    /// Last day and why it ended.
    pub end: Option<(Day, EndReason)>,
}

/// A coded GP event.
pub struct GpEvent {
    /// Date.
    pub date: Day,
    /// SNOMED CT concept.
    pub code: &'static str,
    /// Measurement value, tenths (e.g. 1425 = 142.5).
    pub value: Option<i32>,
}

/// An admitted spell.
pub struct Spell {
    /// Acute trust index.
    pub trust: usize,
    /// Admission date.
    pub admitted: Day,
    /// Discharge date; `None` if still in hospital when the extract was taken.
    pub discharged: Option<Day>,
    /// Admission method code.
    pub method: &'static str,
    /// Episodes: primary diagnosis and secondary diagnoses (canonical ICD-10).
    pub episodes: Vec<(&'static str, Vec<&'static str>)>,
}

/// An A&E attendance.
pub struct Attendance {
    /// Trust index.
    pub trust: usize,
    /// Arrival date.
    pub date: Day,
    /// Arrival mode.
    pub mode: &'static str,
    /// Chief complaint.
    pub complaint: &'static str,
    /// Discharge destination.
    pub destination: &'static str,
}

/// The truth for one model year.
pub struct YearTruth {
    /// First day of the year.
    pub start: Day,
    /// Alive and registered on the first day.
    pub at_risk: bool,
    /// True probability of at least one emergency admission in the year.
    pub probability: f64,
    /// The same probability as far as the data can know it: the patient's propensity `u`,
    /// which no record shows, integrated over what their earlier admissions say of it
    /// ([`Knowable`]).
    pub knowable: f64,
    /// Emergency admissions that happened.
    pub emergency_admissions: u32,
}

/// Type 1 opt-out history.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Type1 {
    /// No code recorded.
    None,
    /// Dissent is the latest code.
    Dissent,
    /// Withdrawal is the latest code.
    Withdrawn,
}

/// Everything generated for one patient.
pub struct Patient {
    /// Index in the population.
    pub index: usize,
    /// NHS number.
    pub nhs: u64,
    /// `M` or `F`.
    pub sex: u8,
    /// Date of birth.
    pub dob: Day,
    /// Given name.
    pub given: &'static str,
    /// Family name.
    pub family: &'static str,
    /// LSOA index.
    pub lsoa: usize,
    /// Postcode; empty when not recorded.
    pub postcode: String,
    /// Deprivation, 0 least to 1 most deprived.
    pub deprivation: f64,
    /// Shared morbidity factor.
    pub morbidity: f64,
    /// Latent frailty.
    pub frailty: f64,
    /// Registrations in date order.
    pub registrations: Vec<Registration>,
    /// Date of death.
    pub death: Option<Day>,
    /// Conditions and their onset.
    pub conditions: Vec<(usize, Day)>,
    /// Frailty deficits and their onset.
    pub deficits: Vec<(usize, Day)>,
    /// GP events (each with its practice index).
    pub gp_events: Vec<(usize, GpEvent)>,
    /// Medicine issues: practice, date, medicine index.
    pub medications: Vec<(usize, Day, usize)>,
    /// Admitted spells.
    pub spells: Vec<Spell>,
    /// Outpatient appointments: trust, date, treatment function, attendance status.
    pub outpatients: Vec<(usize, Day, &'static str, &'static str)>,
    /// A&E attendances.
    pub attendances: Vec<Attendance>,
    /// Ambulance incidents: date, category, conveyed.
    pub ambulance: Vec<(Day, u8, bool)>,
    /// Community contacts: date, team type.
    pub community: Vec<(Day, &'static str)>,
    /// Mental health contacts: date, service type.
    pub mental_health: Vec<(Day, &'static str)>,
    /// Truth per model year.
    pub years: Vec<YearTruth>,
    /// Type 1 opt-out state at the extract date.
    pub type1: Type1,
    /// Programme opt-out recorded.
    pub programme_opt_out: bool,
    /// On the national data opt-out list.
    pub national_opt_out: bool,
    /// The acute trust the patient mostly uses.
    pub main_trust: usize,
}

impl Patient {
    /// The practice registered with on `day`, or, before the first registration, the first
    /// practice (historical codes recorded when the patient joined).
    pub fn practice_on(&self, day: Day) -> Option<usize> {
        let first = self.registrations.first()?;
        if day < first.start {
            return Some(first.practice);
        }
        self.registrations
            .iter()
            .find(|r| day >= r.start && r.end.is_none_or(|(e, _)| day <= e))
            .map(|r| r.practice)
    }

    /// Registered and alive on `day`.
    pub fn registered_on(&self, day: Day) -> bool {
        self.registrations
            .iter()
            .any(|r| day >= r.start && r.end.is_none_or(|(e, _)| day <= e))
    }

    /// Age in whole years on `day`.
    pub fn age_on(&self, day: Day) -> i32 {
        date::age_on(self.dob, day)
    }

    fn active_conditions(&self, day: Day) -> impl Iterator<Item = usize> + '_ {
        self.conditions
            .iter()
            .filter(move |(_, d)| *d <= day)
            .map(|(c, _)| *c)
    }

    fn has(&self, name: &str, day: Day) -> bool {
        self.active_conditions(day)
            .any(|c| CONDITIONS[c].name == name)
    }
}

/// The emergency admission rate per year for a patient at the start of a year:
///
/// `log rate = -3.0 + age(a) + 0.45 (deprivation - 0.5) + sum of condition weights
///             + 0.45 max(frailty, 0) + 0.35 min(emergency admissions in the past year, 3)
///             + log u`,
///
/// where `age(a)` is a shape, 0.9 under 1, -0.9 from 1 to 15, -0.5 from 16 to 39, rising
/// 0.02 a year from 40 to 59 and 0.045 a year after 60, plus the correction of the age's band
/// in [`EMERGENCY_AGE_CORRECTION`], and `u` is the patient's own propensity (gamma with mean 1
/// and shape 2), which no record holds but which also sets the rates of GP contacts and
/// non-admitted A&E attendances (`Seen`). The weights are in [`codes::CONDITIONS`]
/// (`emergency`).
pub fn emergency_rate(
    age: i32,
    deprivation: f64,
    conditions: f64,
    frailty: f64,
    prior: u32,
    u: f64,
) -> f64 {
    let a = f64::from(age);
    let shape = match age {
        0 => 0.9,
        1..=15 => -0.9,
        16..=39 => -0.5,
        40..=59 => -0.5 + 0.02 * (a - 40.0),
        _ => -0.1 + 0.045 * (a - 60.0),
    };
    let age_term = shape + EMERGENCY_AGE_CORRECTION[emergency_age_band(age)];
    let log_rate = -3.0
        + age_term
        + 0.45 * (deprivation - 0.5)
        + conditions
        + 0.45 * frailty.max(0.0)
        + 0.35 * f64::from(prior.min(3))
        + u.ln();
    log_rate.exp()
}

/// The band of [`EMERGENCY_ADMISSIONS_BY_AGE`] an age falls in.
pub fn emergency_age_band(age: i32) -> usize {
    EMERGENCY_ADMISSIONS_BY_AGE
        .iter()
        .position(|(_, lo, hi, _)| (*lo..=*hi).contains(&age))
        .unwrap_or(EMERGENCY_ADMISSIONS_BY_AGE.len() - 1)
}

/// Correction to the log emergency admission rate in each band of
/// [`EMERGENCY_ADMISSIONS_BY_AGE`], fitted so that the generated rate per person-year in each
/// band (the realism summary's by-age table) comes near the published one. Conditions,
/// frailty, prior admissions and who survives all change with age, so the correction is of
/// the resulting rate: starting from 0, each round added `ln(published / generated)` to each
/// band, the generated rate pooled over four worlds of 100,000 patients (`--years-before 3`;
/// seeds 7, 1 and 2 with the default 14 practices, and seed 7 with 40), so that no one
/// world's deprivation mix sets it. After three rounds at seed 7 with 40 practices and one
/// pooled round, every band of the pool was within 1.5%; the values are rounded to two
/// places. Single worlds scatter about the pool by up to about 15% in the oldest bands, with
/// their practices' deprivation (the crate README has the table).
pub const EMERGENCY_AGE_CORRECTION: [f64; 7] = [0.97, 0.62, 0.61, 0.42, 0.06, -0.51, -1.22];

/// Shape of the yearly gamma shock on the emergency admission rate.
pub const YEAR_SHOCK_SHAPE: f64 = 0.7;

/// Shape of the gamma distribution (mean 1) of each patient's propensity `u`.
pub const PROPENSITY_SHAPE: f64 = 2.0;

/// The probability of at least one emergency admission in a year at `rate`, the year's gamma
/// shock (shape [`YEAR_SHOCK_SHAPE`], mean 1) integrated out: `1 - (1 + rate / k)^-k`.
pub fn any_admission(rate: f64) -> f64 {
    1.0 - (1.0 + rate / YEAR_SHOCK_SHAPE).powf(-YEAR_SHOCK_SHAPE)
}

/// Points of the grid over the propensity `u` on which [`Knowable`] integrates.
const KNOWABLE_POINTS: usize = 64;

/// The truth's second probability: what the generator's own equations predict for a year from
/// what a model could see, that is with the patient's propensity `u` (in no record) integrated
/// over its posterior given the patient's earlier years in the window: their emergency
/// admissions, GP contacts and non-admitted A&E attendances. A year's admissions are Poisson
/// with mean `base x exposure x u x shock`, the shock gamma (shape [`YEAR_SHOCK_SHAPE`], mean
/// 1), so given `u` they are negative binomial; visits are Poisson with mean `rate x exposure x
/// u`. `u` has the gamma prior it is drawn from (shape [`PROPENSITY_SHAPE`], mean 1). The
/// integral is a sum over [`KNOWABLE_POINTS`] points evenly spaced in `ln u` from 0.01 to 25
/// (prior mass outside them is under 0.03%). The posterior treats every admission and visit
/// drawn as observed (a few admissions that would overlap a stay, and visits on the same day,
/// are not written), so it is the best prediction up to that approximation.
///
/// A model sees less: only the last 12 months of visits, and conditions and frailty through
/// their codes, so this bounds its discrimination from above.
pub struct Knowable {
    log_posterior: [f64; KNOWABLE_POINTS],
}

impl Knowable {
    fn grid() -> &'static ([f64; KNOWABLE_POINTS], [f64; KNOWABLE_POINTS]) {
        use std::sync::OnceLock;
        static GRID: OnceLock<([f64; KNOWABLE_POINTS], [f64; KNOWABLE_POINTS])> = OnceLock::new();
        GRID.get_or_init(|| {
            let (lo, hi) = (0.01f64.ln(), 25f64.ln());
            let h = (hi - lo) / KNOWABLE_POINTS as f64;
            let mut u = [0.0; KNOWABLE_POINTS];
            let mut log_prior = [0.0; KNOWABLE_POINTS];
            for j in 0..KNOWABLE_POINTS {
                let x = lo + (j as f64 + 0.5) * h;
                u[j] = x.exp();
                // Gamma density (shape a, rate a) times du = u d(ln u): u^a e^(-a u).
                log_prior[j] = PROPENSITY_SHAPE * x - PROPENSITY_SHAPE * u[j];
            }
            (u, log_prior)
        })
    }

    /// The prior alone (no year observed).
    pub fn new() -> Self {
        Self {
            log_posterior: Self::grid().1,
        }
    }

    /// Learn from a year with expected admissions `mean` at `u = 1` (base rate times the years
    /// of exposure) in which `admissions` happened.
    pub fn observe(&mut self, mean: f64, admissions: u32) {
        if mean <= 0.0 {
            return;
        }
        let n = f64::from(admissions);
        let k = YEAR_SHOCK_SHAPE;
        for (lp, u) in self.log_posterior.iter_mut().zip(&Self::grid().0) {
            *lp += n * u.ln() - (n + k) * (k + mean * u).ln();
        }
    }

    /// Learn from a count of visits (GP contacts, A&E attendances) drawn as Poisson with mean
    /// `mean` times `u`.
    pub fn observe_visits(&mut self, mean: f64, visits: u32) {
        if mean <= 0.0 {
            return;
        }
        let n = f64::from(visits);
        for (lp, u) in self.log_posterior.iter_mut().zip(&Self::grid().0) {
            *lp += n * u.ln() - mean * u;
        }
    }

    /// The probability of at least one emergency admission in a whole year at base rate
    /// `base`, averaged over the posterior of `u`.
    pub fn probability(&self, base: f64) -> f64 {
        let top = self
            .log_posterior
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let (mut num, mut den) = (0.0, 0.0);
        for (lp, u) in self.log_posterior.iter().zip(&Self::grid().0) {
            let w = (lp - top).exp();
            num += w * any_admission(base * u);
            den += w;
        }
        num / den
    }
}

impl Default for Knowable {
    fn default() -> Self {
        Self::new()
    }
}

fn poisson(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    Poisson::new(mean).map_or(0, |p| p.sample(rng) as u32)
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn pick_code(rng: &mut ChaCha8Rng, codes: &[&'static str]) -> &'static str {
    codes[rng.random_range(0..codes.len())]
}

fn pick_weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items.last().expect("non-empty").0
}

fn day_in(rng: &mut ChaCha8Rng, from: Day, to: Day) -> Day {
    if to <= from {
        from
    } else {
        rng.random_range(from..to)
    }
}

/// Generate one patient.
pub fn simulate(world: &World, index: usize, rng: &mut ChaCha8Rng) -> Patient {
    let mut p = demographics(world, index, rng);
    conditions(world, &mut p, rng);
    deficits(world, &mut p, rng);
    registrations_and_years(world, &mut p, rng);
    diagnoses_and_opt_outs(world, &mut p, rng);
    medications(world, &mut p, rng);
    p
}

fn demographics(world: &World, index: usize, rng: &mut ChaCha8Rng) -> Patient {
    let ages = &world.age_cdf;
    let u: f64 = rng.random();
    let age_years = ages.partition_point(|&c| c <= u).min(104);
    let age = age_years as f64 + rng.random::<f64>();
    let dob = world.as_of - (age * 365.2425) as Day;
    let band = (age_years / 5).min(18);
    let sex = if rng.random::<f64>() < MALE_SHARE[band] {
        b'M'
    } else {
        b'F'
    };
    let practice = world.pick_practice(rng);
    let pr = &world.practices[practice];
    let lsoa = rng.random_range(pr.lsoas.clone());
    let deprivation = f64::from(10 - world.lsoas[lsoa].imd_decile) / 9.0;
    let postcode_roll: f64 = rng.random();
    let postcode = if postcode_roll < 0.01 {
        String::new()
    } else if postcode_roll < 0.02 {
        // A new-build or mistyped postcode the lookup does not know.
        world.lsoas[lsoa].postcode(lsoa, rng.random_range(world::UNITS_PER_LSOA..400))
    } else {
        world.lsoas[lsoa].postcode(lsoa, rng.random_range(0..world::UNITS_PER_LSOA))
    };
    let given = if sex == b'M' {
        *pick(rng, codes::GIVEN_NAMES_M)
    } else {
        *pick(rng, codes::GIVEN_NAMES_F)
    };
    let family = *pick(rng, codes::FAMILY_NAMES);
    let main_trust = if rng.random::<f64>() < 0.85 {
        pr.acute
    } else {
        rng.random_range(0..world::ACUTE_TRUSTS.len())
    };
    let morbidity = Normal::new(0.0, 1.0).expect("valid").sample(rng);
    Patient {
        index,
        nhs: world.nhs_numbers[index],
        sex,
        dob,
        given,
        family,
        lsoa,
        postcode,
        deprivation,
        morbidity,
        frailty: 0.0,
        registrations: vec![Registration {
            practice,
            start: 0,
            end: None,
        }],
        death: None,
        conditions: Vec::new(),
        deficits: Vec::new(),
        gp_events: Vec::new(),
        medications: Vec::new(),
        spells: Vec::new(),
        outpatients: Vec::new(),
        attendances: Vec::new(),
        ambulance: Vec::new(),
        community: Vec::new(),
        mental_health: Vec::new(),
        years: Vec::new(),
        type1: Type1::None,
        programme_opt_out: false,
        national_opt_out: false,
        main_trust,
    }
}

fn conditions(world: &World, p: &mut Patient, rng: &mut ChaCha8Rng) {
    let age_now = p.age_on(world.as_of);
    let age_end = p.age_on(world.extract_date);
    for (c, spec) in CONDITIONS.iter().enumerate() {
        if age_end < spec.min_age {
            continue;
        }
        let logit = world.condition_intercepts[c]
            + world::condition_logit(c, f64::from(age_now), p.deprivation, p.morbidity);
        if rng.random::<f64>() >= sigmoid(logit) {
            continue;
        }
        // Onset spread evenly over up to 20 years before the extract date, not before the
        // condition's youngest age.
        let span_years = f64::from((age_end - spec.min_age).clamp(0, 20)) + 0.5;
        let onset = world.extract_date - (rng.random::<f64>() * span_years * 365.25) as Day;
        let earliest = date::add_years(p.dob, spec.min_age);
        p.conditions
            .push((c, onset.max(earliest).min(world.extract_date - 1)));
    }
}

fn deficits(world: &World, p: &mut Patient, rng: &mut ChaCha8Rng) {
    let age = f64::from(p.age_on(world.as_of));
    let n = p.conditions.len() as f64;
    let noise = Normal::new(0.0, 0.5).expect("valid").sample(rng);
    p.frailty = 0.055 * (age - 75.0)
        + 0.6 * (p.deprivation - 0.5)
        + 0.1 * (n - 3.0)
        + 0.25 * p.morbidity
        + noise;
    if age < 40.0 {
        return;
    }
    for (d, b0) in deficit_intercepts().iter().enumerate() {
        if rng.random::<f64>() >= sigmoid(b0 + p.frailty + 0.75) {
            continue;
        }
        let span = ((age - 40.0).min(10.0) + 0.5) * 365.25;
        let onset = world.extract_date - (rng.random::<f64>() * span) as Day;
        p.deficits.push((d, onset.min(world.extract_date - 1)));
    }
}

fn deficit_intercepts() -> &'static [f64] {
    use std::sync::OnceLock;
    static B: OnceLock<Vec<f64>> = OnceLock::new();
    B.get_or_init(world::deficit_intercepts)
}

/// Registration start, then year by year: truth, death, moves, and activity.
fn registrations_and_years(world: &World, p: &mut Patient, rng: &mut ChaCha8Rng) {
    let w0 = world.window_start;
    let end = world.extract_date;
    let start = if p.dob >= w0 - 30 {
        p.dob + rng.random_range(7..42)
    } else if rng.random::<f64>() < 0.12 {
        day_in(rng, w0, end - 30)
    } else {
        let years_back = rng.random::<f64>() * f64::from(date::age_on(p.dob, w0).min(25));
        (w0 - (years_back * 365.25) as Day).max(p.dob + 7)
    };
    p.registrations[0].start = start;
    let propensity = Gamma::new(PROPENSITY_SHAPE, 1.0 / PROPENSITY_SHAPE)
        .expect("valid")
        .sample(rng);
    let mut prior = 0u32;
    let mut knowable = Knowable::new();
    for k in 0..=world.cfg.years_before {
        let ys = date::add_years(w0, k as i32);
        let ye = date::add_years(w0, k as i32 + 1);
        let Some(current) = p.registrations.last() else {
            break;
        };
        if current.end.is_some() || current.start >= ye {
            if current.end.is_some() {
                break;
            }
            p.years.push(YearTruth {
                start: ys,
                at_risk: false,
                probability: 0.0,
                knowable: 0.0,
                emergency_admissions: 0,
            });
            continue;
        }
        let from = current.start.max(ys);
        let age = p.age_on(from);
        let cond_weight: f64 = p
            .active_conditions(from)
            .map(|c| CONDITIONS[c].emergency)
            .sum();
        let base = emergency_rate(age, p.deprivation, cond_weight, p.frailty, prior, 1.0);
        let rate = base * propensity;
        // This year's shock (illness nobody could foresee at the start of the year): gamma with
        // mean 1 and shape YEAR_SHOCK_SHAPE, so the true probability of at least one admission
        // is 1 - (1 + rate / k)^-k.
        let shock = Gamma::new(YEAR_SHOCK_SHAPE, 1.0 / YEAR_SHOCK_SHAPE)
            .expect("valid")
            .sample(rng);
        let at_risk = current.start <= ys;
        // Death and moves within the year.
        let mort: f64 = p
            .active_conditions(from)
            .map(|c| CONDITIONS[c].mortality)
            .sum();
        let hazard = mortality(age) * (mort + 0.35 * p.frailty.max(0.0) - 1.3).exp();
        let mut to = ye;
        if rng.random::<f64>() < 1.0 - (-hazard).exp() {
            let d = day_in(rng, from, ye);
            p.death = Some(d);
            to = d;
        }
        let leave = leave_rate(age);
        let roll: f64 = rng.random();
        if let Some(d) = p.death {
            if let Some(r) = p.registrations.last_mut() {
                r.end = Some((d, EndReason::Died));
            }
        } else if roll < leave {
            let d = day_in(rng, from, ye);
            to = d;
            if let Some(r) = p.registrations.last_mut() {
                r.end = Some((d, EndReason::MovedAway));
            }
        } else if roll < leave + 0.02 && world.practices.len() > 1 && from + 30 < end {
            // A move to another practice, with up to two weeks between registrations; the new
            // one starts before the extract date.
            let t = day_in(rng, from, ye.min(end - 16));
            let old = p.registrations.last().map_or(0, |r| r.practice);
            let mut new = world.pick_practice(rng);
            if new == old {
                new = (old + 1) % world.practices.len();
            }
            if let Some(r) = p.registrations.last_mut() {
                r.end = Some((t, EndReason::Transferred));
            }
            p.registrations.push(Registration {
                practice: new,
                start: t + rng.random_range(1..15),
                end: None,
            });
        }
        let (probability, known) = if at_risk {
            (any_admission(rate), knowable.probability(base))
        } else {
            (0.0, 0.0)
        };
        let seen = Seen {
            propensity,
            knowable: &mut knowable,
        };
        let events = activity(world, p, rng, (from, to.min(end)), rate * shock, age, seen);
        knowable.observe(
            base * f64::from(to.min(end) - from).max(0.0) / 365.25,
            events,
        );
        p.years.push(YearTruth {
            start: ys,
            at_risk,
            probability,
            knowable: known,
            emergency_admissions: events,
        });
        prior = events;
        if p.death.is_some() || p.registrations.last().is_some_and(|r| r.end.is_some()) {
            // Fill the truth rows for the remaining years.
            for k2 in k + 1..=world.cfg.years_before {
                p.years.push(YearTruth {
                    start: date::add_years(w0, k2 as i32),
                    at_risk: false,
                    probability: 0.0,
                    knowable: 0.0,
                    emergency_admissions: 0,
                });
            }
            break;
        }
    }
    // Registrations that end after the extract date are still in force on it.
    for r in &mut p.registrations {
        if r.end.is_some_and(|(d, _)| d >= end) {
            r.end = None;
        }
    }
    if p.death.is_some_and(|d| d >= end) {
        p.death = None;
    }
}

/// Yearly probability of leaving the ICB's area: higher for young adults (ONS internal
/// migration estimates: about 7% of people aged 18 to 35 move between local authorities a
/// year, 2.5% of others).
pub fn leave_rate(age: i32) -> f64 {
    if (18..36).contains(&age) { 0.07 } else { 0.025 }
}

/// Annual probability of death by age, Gompertz fit to ONS national life tables 2020-2022
/// (about 0.4% in the first year, 0.15% at 40, 0.9% at 60, 5% at 80, 17% at 95).
pub fn mortality(age: i32) -> f64 {
    if age == 0 {
        return 0.004;
    }
    (-10.4 + 0.094 * f64::from(age)).exp().min(0.6)
}

/// Activity between `from` and `to` (exclusive); returns emergency admissions started.
/// What of a patient's propensity `u` shows in the year's records other than its emergency
/// admissions: GP contacts and A&E attendances not admitted happen at rates proportional to `u`
/// (people at higher unmeasured risk use services more, as prior use predicts admission in
/// real data), and the knowable probability learns from their counts.
struct Seen<'a> {
    propensity: f64,
    knowable: &'a mut Knowable,
}

impl Seen<'_> {
    /// Draws a count of visits at `mean` (at `u = 1`) times the propensity, and lets the
    /// knowable probability learn from it.
    fn visits(&mut self, rng: &mut ChaCha8Rng, mean: f64) -> u32 {
        let n = poisson(rng, mean * self.propensity);
        self.knowable.observe_visits(mean, n);
        n
    }
}

fn activity(
    world: &World,
    p: &mut Patient,
    rng: &mut ChaCha8Rng,
    (from, to): (Day, Day),
    rate: f64,
    age: i32,
    mut seen: Seen<'_>,
) -> u32 {
    if to <= from {
        return 0;
    }
    let frac = f64::from(to - from) / 365.25;
    let frailty = p.frailty.max(0.0);
    let n_cond = p.active_conditions(from).count() as f64;
    let older = sigmoid((f64::from(age) - 65.0) / 8.0);

    // Emergency admissions.
    let n_emergency = poisson(rng, rate * frac);
    let mut admissions: Vec<Day> = (0..n_emergency).map(|_| day_in(rng, from, to)).collect();
    admissions.sort_unstable();
    let mut last_discharge = p
        .spells
        .last()
        .and_then(|s| s.discharged)
        .unwrap_or(Day::MIN);
    let mut started = 0;
    for day in admissions {
        let admitted = day.max(last_discharge + 1);
        if admitted >= to {
            break;
        }
        let mean_los = 2.0 + 0.08 * f64::from((age - 50).max(0)) + 3.0 * frailty;
        let los = if rng.random::<f64>() < 0.25 {
            0
        } else {
            1 + poisson(rng, mean_los - 1.0) as Day
        };
        let spell = emergency_spell(p, rng, admitted, los, age, world.extract_date);
        last_discharge = spell.discharged.unwrap_or(Day::MAX - 1);
        let via_ae = spell.method == "21";
        let trust = spell.trust;
        p.spells.push(spell);
        started += 1;
        if via_ae {
            let by_ambulance = rng.random::<f64>() < 0.25 + 0.5 * older;
            attendance(
                p,
                rng,
                trust,
                admitted,
                by_ambulance,
                codes::DISCHARGE_ADMITTED,
            );
        }
        // Follow-up by community services after an emergency stay, for older patients.
        if rng.random::<f64>() < 0.3 * older {
            let visits = 1 + poisson(rng, 3.0);
            for _ in 0..visits {
                let d = admitted + los + rng.random_range(1..60);
                if d < to {
                    p.community.push((d, "intermediate_care"));
                }
            }
        }
        if last_discharge == Day::MAX - 1 {
            break;
        }
    }

    // Elective and maternity admissions.
    let elective_rate = (-2.05
        + 0.02 * f64::from(age - 50)
        + 0.25 * n_cond.min(4.0)
        + if p.has("cancer", from) { 1.0 } else { 0.0 })
    .exp();
    for _ in 0..poisson(rng, elective_rate * frac) {
        let admitted = day_in(rng, from, to);
        if admitted <= last_discharge {
            continue;
        }
        let los = if rng.random::<f64>() < 0.8 {
            0
        } else {
            1 + poisson(rng, 2.0) as Day
        };
        let spell = planned_spell(p, rng, admitted, los, world.extract_date, false);
        last_discharge = spell.discharged.unwrap_or(Day::MAX - 1);
        p.spells.push(spell);
    }
    if p.sex == b'F' && (18..=42).contains(&age) {
        for _ in 0..poisson(rng, 0.06 * frac) {
            let admitted = day_in(rng, from, to);
            if admitted <= last_discharge {
                continue;
            }
            let los = 1 + rng.random_range(0..3);
            let spell = planned_spell(p, rng, admitted, los, world.extract_date, true);
            last_discharge = spell.discharged.unwrap_or(Day::MAX - 1);
            p.spells.push(spell);
        }
    }

    // A&E attendances that did not lead to admission, and ambulance incidents not conveyed.
    let young_adult = if (16..30).contains(&age) { 0.3 } else { 0.0 };
    let ae_rate = 0.17
        * (0.6 * older
            + young_adult
            + 0.45 * (p.deprivation - 0.5)
            + 0.35 * frailty
            + 0.15 * n_cond.min(4.0))
        .exp();
    for _ in 0..seen.visits(rng, ae_rate * frac) {
        let d = day_in(rng, from, to);
        let by_ambulance = rng.random::<f64>() < 0.12 + 0.35 * older;
        let trust = visit_trust(p, rng);
        let dest = if rng.random::<f64>() < 0.97 {
            codes::DISCHARGE_HOME
        } else {
            codes::DISCHARGE_TRANSFER
        };
        attendance(p, rng, trust, d, by_ambulance, dest);
    }
    let see_and_treat = 0.05 * (1.4 * older + 0.4 * frailty + 0.3 * (p.deprivation - 0.5)).exp();
    for _ in 0..poisson(rng, see_and_treat * frac) {
        let d = day_in(rng, from, to);
        let cat = pick_weighted(rng, &[(2u8, 0.45), (3, 0.35), (4, 0.15), (1, 0.05)]);
        p.ambulance.push((d, cat, false));
    }

    // Outpatients.
    let op_rate = 1.45 * (0.018 * f64::from(age - 40) + 0.3 * n_cond.min(5.0)).exp();
    let active: Vec<usize> = p.active_conditions(from).collect();
    for _ in 0..poisson(rng, op_rate * frac) {
        let d = day_in(rng, from, to);
        let tf = if !active.is_empty() && rng.random::<f64>() < 0.6 {
            CONDITIONS[*pick(rng, &active)].treatment_function
        } else if age < 16 {
            "420"
        } else {
            *pick(rng, &codes::GENERAL_TREATMENT_FUNCTIONS)
        };
        let dna = 0.05 + 0.06 * p.deprivation + if (16..35).contains(&age) { 0.04 } else { 0.0 };
        let status = pick_weighted(
            rng,
            &[
                ("5", 0.80),
                ("6", 0.03),
                ("7", 0.005),
                ("3", dna),
                ("2", 0.05),
                ("4", 0.04),
            ],
        );
        let trust = visit_trust(p, rng);
        p.outpatients.push((trust, d, tf, status));
    }

    // GP contacts and measurements.
    gp_contacts(p, rng, (from, to), age, (n_cond, frailty), &mut seen);

    // Community and mental health services.
    community_and_mental_health(p, rng, from, to, age, frailty, frac);
    started
}

/// The trust of an A&E or outpatient visit: the patient's own nine times in ten.
fn visit_trust(p: &Patient, rng: &mut ChaCha8Rng) -> usize {
    if rng.random::<f64>() < 0.9 {
        p.main_trust
    } else {
        rng.random_range(0..world::ACUTE_TRUSTS.len())
    }
}

fn emergency_spell(
    p: &Patient,
    rng: &mut ChaCha8Rng,
    admitted: Day,
    los: Day,
    age: i32,
    end: Day,
) -> Spell {
    let active: Vec<usize> = p.active_conditions(admitted).collect();
    let with_acute: Vec<(usize, f64)> = active
        .iter()
        .filter(|&&c| CONDITIONS[c].emergency > 0.0)
        .map(|&c| (c, CONDITIONS[c].emergency))
        .collect();
    let primary = if !with_acute.is_empty() && rng.random::<f64>() < 0.55 {
        let c = pick_weighted(rng, &with_acute);
        *pick(rng, CONDITIONS[c].acute)
    } else if age < 16 {
        *pick(rng, codes::ACUTE_CHILD)
    } else {
        *pick(rng, codes::ACUTE_ADULT)
    };
    let secondary = secondary_diagnoses(p, rng, admitted, primary);
    let mut episodes = vec![(primary, secondary.clone())];
    if rng.random::<f64>() < 0.12 && los > 1 {
        let second = if age < 16 {
            *pick(rng, codes::ACUTE_CHILD)
        } else {
            *pick(rng, codes::ACUTE_ADULT)
        };
        if second != primary {
            episodes.push((second, secondary));
        }
    }
    let method = pick_weighted(
        rng,
        &[
            ("21", 0.74),
            ("22", 0.14),
            ("2A", 0.03),
            ("2B", 0.02),
            ("23", 0.01),
            ("24", 0.02),
            ("25", 0.01),
            ("28", 0.03),
        ],
    );
    let discharged = discharge(p, admitted, los, end);
    Spell {
        trust: p.main_trust,
        admitted,
        discharged,
        method,
        episodes,
    }
}

fn planned_spell(
    p: &Patient,
    rng: &mut ChaCha8Rng,
    admitted: Day,
    los: Day,
    end: Day,
    maternity: bool,
) -> Spell {
    let (primary, method) = if maternity {
        (
            *pick(rng, codes::MATERNITY),
            pick_weighted(rng, &[("31", 0.9), ("32", 0.1)]),
        )
    } else {
        let primary = if p.has("cancer", admitted) && rng.random::<f64>() < 0.6 {
            "Z51.1"
        } else {
            *pick(rng, codes::ELECTIVE)
        };
        (
            primary,
            pick_weighted(rng, &[("11", 0.6), ("12", 0.25), ("13", 0.15)]),
        )
    };
    let secondary = secondary_diagnoses(p, rng, admitted, primary);
    let discharged = discharge(p, admitted, los, end);
    Spell {
        trust: p.main_trust,
        admitted,
        discharged,
        method,
        episodes: vec![(primary, secondary)],
    }
}

fn discharge(p: &Patient, admitted: Day, los: Day, end: Day) -> Option<Day> {
    let mut d = admitted + los;
    if let Some(death) = p.death {
        d = d.min(death.max(admitted));
    }
    (d < end).then_some(d)
}

/// Secondary diagnoses: the chronic conditions hospitals usually code, the deficits they
/// sometimes code, and incidental frailty-related codes (every HFRS category).
fn secondary_diagnoses(
    p: &Patient,
    rng: &mut ChaCha8Rng,
    day: Day,
    primary: &'static str,
) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let push = |code: &'static str, out: &mut Vec<&'static str>| {
        if code != primary && !out.contains(&code) && out.len() < 12 {
            out.push(code);
        }
    };
    for (c, onset) in &p.conditions {
        if *onset <= day && rng.random::<f64>() < 0.75 {
            let code = pick_weighted(rng, CONDITIONS[*c].icd10);
            push(code, &mut out);
            if code == "F00.9" {
                push("G30.9", &mut out);
            }
            if code == "E11.4" {
                push("G63.2", &mut out);
            }
        }
    }
    for (d, onset) in &p.deficits {
        if *onset <= day && rng.random::<f64>() < 0.4 {
            let code = pick_code(rng, DEFICITS[*d].icd10);
            push(code, &mut out);
        }
    }
    let age = p.age_on(day);
    let incidental = if age >= 65 {
        0.3 + 1.2 * p.frailty.max(0.0)
    } else {
        0.1
    };
    for _ in 0..poisson(rng, incidental) {
        let code = pick_code(rng, &codes::HFRS_CATEGORIES);
        push(code, &mut out);
    }
    out
}

fn attendance(
    p: &mut Patient,
    rng: &mut ChaCha8Rng,
    trust: usize,
    day: Day,
    by_ambulance: bool,
    destination: &'static str,
) {
    let mode = if by_ambulance {
        let cat = pick_weighted(rng, &[(1u8, 0.12), (2, 0.6), (3, 0.23), (4, 0.05)]);
        p.ambulance.push((day, cat, true));
        codes::ARRIVAL_AMBULANCE
    } else if rng.random::<f64>() < 0.85 {
        codes::ARRIVAL_OWN
    } else {
        codes::ARRIVAL_PUBLIC
    };
    let complaint = *pick(rng, &codes::CHIEF_COMPLAINTS);
    p.attendances.push(Attendance {
        trust,
        date: day,
        mode,
        complaint,
        destination,
    });
}

fn gp_contacts(
    p: &mut Patient,
    rng: &mut ChaCha8Rng,
    (from, to): (Day, Day),
    age: i32,
    (n_cond, frailty): (f64, f64),
    seen: &mut Seen<'_>,
) {
    let frac = f64::from(to - from) / 365.25;
    let female = if p.sex == b'F' && (16..60).contains(&age) {
        0.3
    } else {
        0.0
    };
    let rate =
        2.4 * (0.01 * f64::from(age) + female + 0.18 * n_cond.min(6.0) + 0.3 * frailty).exp();
    let mut days: Vec<Day> = (0..seen.visits(rng, rate * frac))
        .map(|_| day_in(rng, from, to))
        .collect();
    days.sort_unstable();
    days.dedup();
    let hypertensive = p.has("hypertension", from);
    let diabetic = p.has("diabetes", from);
    let housebound = p
        .deficits
        .iter()
        .any(|(d, o)| DEFICITS[*d].efi == "housebound" && *o <= from);
    let bp_normal = Normal::new(0.0, 1.0).expect("valid");
    for day in days {
        let Some(practice) = p.practice_on(day) else {
            continue;
        };
        let home: f64 = if housebound { 0.5 } else { 0.02 };
        let kind = pick_weighted(rng, &[(0usize, 0.62), (1, 0.36 - home.min(0.3)), (2, home)]);
        p.gp_events.push((
            practice,
            GpEvent {
                date: day,
                code: codes::CONTACT_CODES[kind],
                value: None,
            },
        ));
        if kind != 1 && rng.random::<f64>() < if hypertensive { 0.55 } else { 0.15 } {
            let sys = 1250.0
                + 3.0 * f64::from(age - 50)
                + if hypertensive { 120.0 } else { 0.0 }
                + 150.0 * bp_normal.sample(rng);
            let dia = 790.0 + if hypertensive { 40.0 } else { 0.0 } + 90.0 * bp_normal.sample(rng);
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code: codes::BP_CODES[0],
                    value: Some(sys.round().max(700.0) as i32),
                },
            ));
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code: codes::BP_CODES[1],
                    value: Some(dia.round().max(400.0) as i32),
                },
            ));
        }
        if age >= 16 && rng.random::<f64>() < 0.05 {
            let bmi = 275.0
                + 50.0 * bp_normal.sample(rng)
                + if p.has("obesity", day) { 80.0 } else { 0.0 };
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code: codes::BMI_CODE,
                    value: Some(bmi.round().max(150.0) as i32),
                },
            ));
        }
        if diabetic && rng.random::<f64>() < 0.3 {
            let a1c = 580.0 + 120.0 * bp_normal.sample(rng);
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code: codes::HBA1C_CODE,
                    value: Some(a1c.round().max(300.0) as i32),
                },
            ));
        }
        if age >= 16 && rng.random::<f64>() < 0.04 {
            let smoke = 0.12 + 0.15 * p.deprivation;
            let s = pick_weighted(rng, &[(0usize, smoke), (1, 0.25), (2, 0.75 - smoke)]);
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code: codes::SMOKING_CODES[s],
                    value: None,
                },
            ));
        }
        if rng.random::<f64>() < 0.07 {
            p.medications
                .push((practice, day, *pick(rng, &codes::ACUTE_MEDICINES)));
        }
    }
}

fn community_and_mental_health(
    p: &mut Patient,
    rng: &mut ChaCha8Rng,
    from: Day,
    to: Day,
    age: i32,
    frailty: f64,
    frac: f64,
) {
    let a = f64::from(age);
    if age < 5 {
        for _ in 0..poisson(rng, 2.0 * frac) {
            p.community.push((day_in(rng, from, to), "health_visiting"));
        }
    } else if rng.random::<f64>() < frac * sigmoid(-3.6 + 0.06 * (a - 70.0) + 0.9 * frailty) {
        let teams: Vec<(&'static str, f64)> = vec![
            ("district_nursing", 0.3 + frailty),
            ("community_matron", 0.1 + 0.3 * frailty),
            ("physiotherapy", 0.4),
            ("podiatry", if p.has("diabetes", from) { 0.6 } else { 0.2 }),
            ("continence", 0.1),
            ("speech_and_language", 0.05),
        ];
        let team = pick_weighted(rng, &teams);
        for _ in 0..=poisson(rng, 6.0) {
            p.community.push((day_in(rng, from, to), team));
        }
    }
    let smi = p.has("serious_mental_illness", from);
    let depressed = p.has("depression", from);
    let dementia = p.has("dementia", from);
    let in_contact = 0.012
        + if smi { 0.5 } else { 0.0 }
        + if depressed { 0.12 } else { 0.0 }
        + if dementia { 0.25 } else { 0.0 };
    if age >= 12 && rng.random::<f64>() < in_contact * frac {
        let service = if dementia {
            "older_adults"
        } else if smi {
            *pick(
                rng,
                &[
                    "community_mental_health",
                    "early_intervention_psychosis",
                    "crisis_resolution",
                ],
            )
        } else {
            *pick(
                rng,
                &[
                    "talking_therapies",
                    "community_mental_health",
                    "liaison_psychiatry",
                ],
            )
        };
        for _ in 0..=poisson(rng, 7.0) {
            p.mental_health.push((day_in(rng, from, to), service));
        }
    }
}

/// Diagnosis codes in GP events at each condition's and deficit's onset, and opt-out codes.
fn diagnoses_and_opt_outs(world: &World, p: &mut Patient, rng: &mut ChaCha8Rng) {
    let last_day = p
        .registrations
        .last()
        .and_then(|r| r.end.map(|(d, _)| d))
        .unwrap_or(world.extract_date - 1);
    let mut coded: Vec<(Day, &'static str)> = Vec::new();
    for (c, onset) in &p.conditions {
        let spec = &CONDITIONS[*c];
        let code = match spec.efi {
            Some(list) => *pick(rng, &world.efi_codes[list]),
            None => *pick(rng, spec.snomed),
        };
        coded.push((*onset, code));
    }
    for (d, onset) in &p.deficits {
        coded.push((*onset, *pick(rng, &world.efi_codes[DEFICITS[*d].efi])));
    }
    for (day, code) in coded {
        if day > last_day {
            continue;
        }
        if let Some(practice) = p.practice_on(day) {
            p.gp_events.push((
                practice,
                GpEvent {
                    date: day,
                    code,
                    value: None,
                },
            ));
        }
    }
    let first = p.registrations[0].start;
    // An opt-out code is only recorded on a day the patient is registered somewhere.
    let record = |p: &mut Patient, day: Day, code: &'static str| -> bool {
        let Some(practice) = p.practice_on(day).filter(|_| p.registered_on(day)) else {
            return false;
        };
        p.gp_events.push((
            practice,
            GpEvent {
                date: day,
                code,
                value: None,
            },
        ));
        true
    };
    if last_day > first + 60 && rng.random::<f64>() < TYPE1_OPT_OUT_RATE {
        let dissent = day_in(rng, first, last_day - 30);
        if record(p, dissent, crate::params::TYPE1_DISSENT_CODE) {
            p.type1 = Type1::Dissent;
            if rng.random::<f64>() < TYPE1_WITHDRAWAL_SHARE && last_day > dissent + 20 {
                let withdrawn = day_in(rng, dissent + 10, last_day);
                if record(p, withdrawn, crate::params::TYPE1_WITHDRAWAL_CODE) {
                    p.type1 = Type1::Withdrawn;
                    if rng.random::<f64>() < 0.2 && last_day > withdrawn + 20 {
                        let again = day_in(rng, withdrawn + 10, last_day);
                        if record(p, again, crate::params::TYPE1_DISSENT_CODE) {
                            p.type1 = Type1::Dissent;
                        }
                    }
                }
            }
        }
    }
    if last_day > first + 30 && rng.random::<f64>() < PROGRAMME_OPT_OUT_RATE {
        let day = day_in(rng, first, last_day);
        p.programme_opt_out = record(p, day, crate::params::PROGRAMME_OPT_OUT_CODE);
    }
    p.national_opt_out = rng.random::<f64>() < NATIONAL_OPT_OUT_RATE;
}

/// Repeat prescriptions every 56 days for each active condition's medicines, from the start of
/// the simulated history (or onset, or registration) to the end of registration: a GP record
/// holds years of issues, so features as of the earlier dates a risk model is fitted on see
/// medicines as the reference date's do.
fn medications(world: &World, p: &mut Patient, rng: &mut ChaCha8Rng) {
    let meds_from = world.window_start;
    let mut started: Vec<(usize, Day)> = Vec::new();
    for (c, onset) in &p.conditions {
        for &m in CONDITIONS[*c].medicines {
            match started.iter_mut().find(|(x, _)| *x == m) {
                Some((_, d)) => *d = (*d).min(*onset),
                None => started.push((m, *onset)),
            }
        }
    }
    let regs = p.registrations.clone();
    for (m, onset) in started {
        if rng.random::<f64>() < 0.15 {
            continue; // not every patient with the condition is treated with every medicine
        }
        let mut day = onset.max(meds_from) + rng.random_range(0..56);
        for r in &regs {
            let r_end = r.end.map_or(world.extract_date - 1, |(d, _)| d);
            day = day.max(r.start + rng.random_range(0..28));
            while day <= r_end {
                p.medications.push((r.practice, day, m));
                day += 56;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The posterior mean of `any_admission(base u)` by a plain Riemann sum in `u` itself
    /// (200,000 steps to 40), written apart from [`Knowable`]'s log-spaced grid.
    fn integrate(years: &[(f64, u32)], base: f64) -> f64 {
        let (a, k) = (PROPENSITY_SHAPE, YEAR_SHOCK_SHAPE);
        let steps = 200_000;
        let du = 40.0 / f64::from(steps);
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..steps {
            let u = (f64::from(i) + 0.5) * du;
            let mut density = u.powf(a - 1.0) * (-a * u).exp();
            for &(mean, n) in years {
                let m = mean * u;
                // Negative binomial probability of n, up to factors free of u.
                density *= (m / (k + m)).powi(n as i32) * (k / (k + m)).powf(k);
            }
            num += density * (1.0 - (1.0 + base * u / k).powf(-k));
            den += density;
        }
        num / den
    }

    #[test]
    fn knowable_probability_matches_a_direct_integral() {
        let cases: [&[(f64, u32)]; 4] = [
            &[],
            &[(0.2, 0)],
            &[(0.1, 0), (0.3, 2), (0.5, 1)],
            &[(1.2, 4), (1.5, 6)],
        ];
        for years in cases {
            let mut k = Knowable::new();
            for &(mean, n) in years {
                k.observe(mean, n);
            }
            for base in [0.02, 0.3, 2.0] {
                let got = k.probability(base);
                let want = integrate(years, base);
                assert!(
                    (got - want).abs() < 2e-3 * want.max(0.01),
                    "{years:?} at {base}: {got} against {want}"
                );
            }
        }
    }

    #[test]
    fn admissions_raise_the_knowable_probability_and_quiet_years_lower_it() {
        let prior = Knowable::new().probability(0.2);
        // With no year seen, the prior's mean of u is 1, and the shock-free probability is
        // below the truth at u = 1 only by the propensity's spread (Jensen).
        assert!(prior < any_admission(0.2));
        let mut busy = Knowable::new();
        busy.observe(0.2, 3);
        let mut quiet = Knowable::new();
        quiet.observe(0.2, 0);
        quiet.observe(0.2, 0);
        assert!(busy.probability(0.2) > prior);
        assert!(quiet.probability(0.2) < prior);
    }
}
