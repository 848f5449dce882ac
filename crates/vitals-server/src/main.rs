//! `vitals-server`: the Health Agent API with live performance metrics.

use std::process::ExitCode;

use clap::Parser;
use vitals_server::redact::redact_url;
use vitals_server::{AppState, Args, Settings, StartupError};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let print_config = args.print_config();
    let print_slo_rules = args.print_slo_rules();
    let settings = match Settings::resolve(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vitals-server: {e}");
            return ExitCode::from(2);
        }
    };
    if print_config {
        print!("{}", settings.to_toml());
        return ExitCode::SUCCESS;
    }
    if print_slo_rules {
        print!("{}", settings.slo_rules());
        return ExitCode::SUCCESS;
    }
    if let Err(e) = vitals_server::telemetry::init(settings.log_format, &settings.log) {
        eprintln!("vitals-server: cannot set up logging: {e}");
        return ExitCode::from(2);
    }
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("vitals-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), StartupError> {
    let state = AppState::from_settings(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|source| StartupError::Listen {
            addr: settings.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(settings.listen);
    let limit = vitals_server::open_files::raise_limit();
    match limit {
        Some(limit) => tracing::info!(
            open_file_limit = limit,
            "open-file limit raised to the hard limit"
        ),
        None => tracing::info!("open-file limit unknown on this platform"),
    }
    let fits = vitals_server::open_files::connections_for(limit, settings.pool_max);
    if let Some(limit) = limit
        && settings.max_connections > fits
    {
        tracing::warn!(
            max_connections = settings.max_connections,
            open_file_limit = limit,
            fits,
            "--max-connections is above what the open-file limit serves (with room for the pool, Redis and files): past about {fits} connections accept() fails and clients wait unanswered; raise the limit (ulimit -n, LimitNOFILE) or lower --max-connections"
        );
    }
    tracing::info!(
        database = %settings
            .database_url
            .as_deref()
            .map_or_else(|| format!("embedded sqlite in {}", settings.data_dir.display()), redact_url),
        cache = state.cache().backend_name(),
        pool_min = settings.pool_min,
        pool_max = settings.pool_max,
        "vitals-server listening on http://{addr}"
    );
    let limits = vitals_server::ConnectionLimits::from(&settings);
    let report =
        vitals_server::serve(listener, state, limits, vitals_server::shutdown_signal()).await;
    tracing::info!(forced = report.forced, "vitals-server stopped");
    Ok(())
}
