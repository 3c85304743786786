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
        Command::Openapi { output, check } => openapi(output, check),
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let bind = config.bind;
    let (backend, url) = (config.database_url.backend(), config.database_url.to_string());
    let app = Application::build(config).await?;
    log::info!("Vigil listening on http://{bind} (port {}), database {backend:?} at {url}", app.port());
    app.run_until_stopped().await.context("The server stopped with an error")
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

fn openapi(output: Option<PathBuf>, check: Option<PathBuf>) -> anyhow::Result<()> {
    if let Some(path) = check {
        vigil::openapi::check_snapshot(&path)?;
        println!("{} is up to date.", path.display());
        return Ok(());
    }
    let json = vigil::openapi::spec_json()?;
    match output {
        Some(path) => std::fs::write(&path, json).with_context(|| format!("Failed to write {}", path.display())),
        None => {
            print!("{json}");
            Ok(())
        }
    }
}
