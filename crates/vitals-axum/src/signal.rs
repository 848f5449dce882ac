//! The usual stop signal of a service, to hand to
//! [`Vitals::graceful_shutdown`](crate::Vitals::graceful_shutdown).

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what Kubernetes, systemd and Docker
/// send first), and logs which one arrived. Where a signal cannot be listened for, that one
/// never completes; the other still does.
///
/// ```no_run
/// # async fn run(vitals: vitals_axum::Vitals, app: axum::Router) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app)
///     .with_graceful_shutdown(vitals.graceful_shutdown(vitals_axum::shutdown_signal()))
///     .await
/// # }
/// ```
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; finishing the requests in flight"),
        () = terminate => tracing::info!("SIGTERM received; finishing the requests in flight"),
    }
}
