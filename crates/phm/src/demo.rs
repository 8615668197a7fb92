//! `phm demo`: the whole pipeline on the committed sample, in one command.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use phm_reid::audit;
use phm_reid::reid::{Request, Selection};
use phm_run::atomic::{self, Privacy};

use crate::Outcome;

pub const HELP: &str = "\
Runs pipeline/demo.toml on the committed synthetic sample (data-samples/synth) into a new
folder, with demo keys it makes there:
  keys/icb.key                  the pseudonymisation key (0600)
  practice/<ODS>.identity.txt   one practice's identity; its recipient goes in the pipeline copy
  runs/latest/                  the pseudonymised run: report.html, report.json, publish/, ...
  identifiable/                 the identifiable zone (0700): quarantine, vaults
  practice/lists/gp-list-*/     that practice's very high and high risk patients, re-identified
  practice/audit.jsonl          the audit log of that re-identification
then prints where everything is and a query to try. Everything is synthetic (NHS numbers from
the 999 test range); delete the folder when done.

Run it from the phm repository (it reads pipeline/, data-samples/ and sql/ there).

Examples:
  phm demo
  phm demo --out /tmp/phm-demo";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for everything the demo makes (must not exist yet; default: a new folder under
    /// the system's temporary folder, kept so you can look at it).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The repository: the current folder or an ancestor holding `pipeline/demo.toml`, else the
/// one phm was built from.
fn repository() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    here.ancestors()
        .map(Path::to_path_buf)
        .chain(std::iter::once(built))
        .find(|d| d.join("pipeline/demo.toml").is_file() && d.join("data-samples/synth").is_dir())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "cannot find `pipeline/demo.toml` and `data-samples/synth`\nhint: run `phm demo` from a clone of the phm repository"
            )
        })
}

fn out_folder(args: &DemoArgs) -> anyhow::Result<PathBuf> {
    let out = args.out.clone().unwrap_or_else(|| {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        std::env::temp_dir().join(format!("phm-demo-{stamp}-{}", std::process::id()))
    });
    if out.exists() {
        bail!(
            "`{}` already exists\nhint: give `--out` a folder that does not exist yet",
            out.display()
        );
    }
    atomic::create_dir_all(&out, Privacy::Private)
        .with_context(|| format!("cannot create `{}`", out.display()))?;
    Ok(out)
}

/// The first practice of the sample (its registrations file).
fn first_practice(repo: &Path) -> anyhow::Result<String> {
    let dir = repo.join("data-samples/synth/extracts/gp_registrations");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read `{}`", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".csv")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no GP registrations in `{}`", dir.display()))
}

#[allow(clippy::print_stdout)]
pub fn demo(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let repo = repository()?.canonicalize()?;
    let out = out_folder(args)?;
    let keys = out.join("keys");
    atomic::create_dir_all(&keys, Privacy::Private)?;
    let key = keys.join("icb.key");
    phm_ingest::PseudonymKey::create(&key)?;
    let practice = first_practice(&repo)?;
    let practice_dir = out.join("practice");
    let files = phm_reid::PracticeIdentity::generate().write(
        &practice,
        &audit::now_utc(),
        &practice_dir,
    )?;
    // The demo definition with this practice's recipient, its paths made absolute.
    let text = std::fs::read_to_string(repo.join("pipeline/demo.toml"))?;
    let pipeline = out.join("demo.toml");
    let text = format!(
        "{}\n[reid.recipients]\n{practice} = \"{}\"\n",
        text.replace("\"../", &format!("\"{}/", repo.display())),
        files.recipient_text
    );
    atomic::write_file(&pipeline, text.as_bytes(), Privacy::Private)?;

    println!("== phm run: ingest -> link -> score -> risk -> bundles -> publish\n");
    let runs = out.join("runs");
    let outcome = crate::run::run(&crate::run::RunArgs::new(
        pipeline,
        runs.clone(),
        out.join("identifiable"),
        key.clone(),
    ))?;
    let latest = runs.join("latest");
    println!(
        "\n== phm reid: practice {practice} re-identifies its very high and high risk patients\n"
    );
    let audit_log = practice_dir.join("audit.jsonl");
    let d = phm_reid::reid::reidentify(&Request {
        bundle: latest.join("outbox").join(&practice),
        identity: files.identity.clone(),
        user: "demo.gp".to_owned(),
        reason: "phm demo: case finding".to_owned(),
        selection: Selection::BundleTiers,
        out: practice_dir.join("lists"),
        audit: audit_log.clone(),
        time: audit::now_utc(),
    })?;
    println!(
        "Re-identified {} patient(s) of practice {practice}; audit log head {}",
        d.patients, d.head
    );
    let layout = phm_run::RunLayout::at(&latest);
    println!("\n== What the demo made, in {}\n", out.display());
    println!("  Run report:   {}", layout.report_html().display());
    println!(
        "                (every number in {})",
        layout.report_json().display()
    );
    println!("  Aggregates:   {}", layout.aggregates().display());
    println!(
        "  GP list:      {}",
        d.folder.join("gp-list.html").display()
    );
    println!(
        "  Audit log:    {}   (phm audit verify {} --head {})",
        audit_log.display(),
        audit_log.display(),
        d.head
    );
    println!(
        "  Model card:   {}",
        layout.risk_file("model_card.md").display()
    );
    println!(
        "  Keys (demo only, delete with the folder): {}",
        keys.display()
    );
    println!("\nTry:");
    println!(
        "  phm query --run {} \"SELECT tier, COUNT(*) AS patients, ROUND(AVG(risk), 3) AS mean_risk FROM risk GROUP BY tier ORDER BY MIN(rank)\"",
        latest.display()
    );
    Ok(outcome)
}
