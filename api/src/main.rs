//! The `vigil` command: parse the command line and call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vigil::{Application, Config};

#[derive(Parser)]
#[command(name = "vigil", version, about = "Vigil: billing and real-time alerts for employee-monitoring tenants")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Seed a demo company with every page of the web app filled, and print its sign-in (not in production).
    Demo,
    /// Write a consistent copy of the SQLite database to PATH while Vigil runs (start from it with
    /// DATABASE_URL=sqlite://PATH).
    Backup {
        /// Where to write the copy (must not exist).
        path: PathBuf,
    },
    /// Stripe maintenance.
    Stripe {
        #[command(subcommand)]
        command: StripeCommand,
    },
    /// Print the OpenAPI document (or write it to a file).
    Openapi {
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Compare with this committed file instead; fail when it is stale.
        #[arg(long, conflicts_with = "output")]
        check: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StripeCommand {
    /// Pull customers, subscriptions and invoices from Stripe and repair the local mirror.
    Resync {
        /// Only this company (its id).
        #[arg(long)]
        company: Option<String>,
    },
    /// Process recorded events again through the same idempotent path (after a fix, say).
    Replay {
        /// Every event whose processing failed.
        #[arg(long, conflicts_with = "event_id")]
        failed: bool,
        /// One event, e.g. evt_1Q2w3E4r.
        event_id: Option<String>,
    },
    /// List Stripe's events since the newest one recorded and process those never received.
    CatchUp,
}

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is reported by the variable it fails to set.
    let _ = dotenvy::dotenv();
    vigil::logging::init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vigil: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve()),
        Command::Migrate => actix_web::rt::System::new().block_on(migrate()),
        Command::Demo => actix_web::rt::System::new().block_on(demo()),
        Command::Openapi { output, check } => openapi(output, check),
        Command::Backup { path } => backup(&path),
        Command::Stripe { command } => actix_web::rt::System::new().block_on(stripe(command)),
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let bind = config.bind;
    let (backend, url) = (config.database_url.backend(), config.database_url.to_string());
    let app = Application::build(config).await?;
    log::info!("Vigil listening on http://{bind} (port {}), database {backend:?} at {url}", app.port());
    app.run_until_signalled().await.context("The server stopped with an error")
}

async fn migrate() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let pool = vigil::db::build_pool(&config.database_url, 1, config.db_acquire_timeout, None)?;
    let applied = vigil::app::migrate(&pool, &config).await?;
    if applied.is_empty() {
        println!("The database is up to date.");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

async fn demo() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let pool = vigil::db::build_pool(&config.database_url, 2, config.db_acquire_timeout, None)?;
    vigil::app::migrate(&pool, &config).await?;
    let report = vigil::demo::seed(&pool, &config).await?;
    if report.created {
        println!("Seeded the demo company Acme Demo ({}).", report.company);
    } else {
        println!("The demo company exists already ({}).", report.company);
    }
    println!("Sign in at {} with {} / {}", config.public_url, vigil::demo::DEMO_EMAIL, vigil::demo::DEMO_PASSWORD);
    Ok(())
}

async fn stripe(command: StripeCommand) -> anyhow::Result<()> {
    use vigil::stripe_webhooks::service::{self as webhook, Replay};
    let config = Config::from_env()?;
    let pool = vigil::db::build_pool(&config.database_url, 2, config.db_acquire_timeout, None)?;
    vigil::app::migrate(&pool, &config).await?;
    let setup = vigil::stripe::StripeSetup::from_config(&config)?;
    let failed = |error: vigil::error::ApiError| anyhow::anyhow!("{}", error.problem().detail);
    let report = match command {
        StripeCommand::Resync { company } => {
            let report = vigil::billing::resync::resync_command(&pool, &setup, company.as_deref()).await?;
            for repair in &report.repairs {
                println!("repaired: {repair}");
            }
            println!("{} companies checked, {} repairs.", report.companies, report.repairs.len());
            return Ok(());
        }
        StripeCommand::Replay { failed: true, .. } => {
            webhook::replay(&pool, &setup, Replay::Failed).await.map_err(failed)?
        }
        StripeCommand::Replay { event_id: Some(id), .. } => {
            webhook::replay(&pool, &setup, Replay::Event(id)).await.map_err(failed)?
        }
        StripeCommand::Replay { .. } => anyhow::bail!("say which events: --failed or an event id"),
        StripeCommand::CatchUp => webhook::catch_up(&pool, &setup).await.map_err(failed)?,
    };
    println!(
        "{} processed, {} ignored, {} already applied, {} failed.",
        report.processed, report.ignored, report.duplicates, report.failed
    );
    if report.failed > 0 {
        anyhow::bail!("{} events failed; see the log and `vigil stripe replay --failed`", report.failed);
    }
    Ok(())
}

fn backup(path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let pool = vigil::db::build_pool(&config.database_url, 1, config.db_acquire_timeout, None)?;
    let mut conn = pool.get().context("Failed to connect to the database (DATABASE_URL)")?;
    vigil::db::backup(&mut conn, path)?;
    println!("Backed up to {}.", path.display());
    Ok(())
}

fn openapi(output: Option<PathBuf>, check: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = check {
        vigil::openapi::check_snapshot(&path, vigil::app::routes)?;
        println!("{} is up to date.", path.display());
        return Ok(());
    }
    let json = vigil::openapi::spec_json(vigil::app::routes)?;
    match output {
        Some(path) => std::fs::write(&path, json).with_context(|| format!("Failed to write {}", path.display())),
        None => {
            print!("{json}");
            Ok(())
        }
    }
}
