//! [`Vitals::routes`]: the handlers mounted at their usual paths, in one router.

use axum::Router;
use axum::routing::get;

use crate::handlers;
use crate::vitals::Vitals;

impl Vitals {
    /// `GET /api/v1/metrics`, `GET /metrics`, `GET /health` and `GET /health/ready`, as a
    /// router for any state type of yours: `merge` it into your own. With the dashboard on
    /// (see [`VitalsBuilder::dashboard`](crate::VitalsBuilder::dashboard)) also
    /// `GET /dashboard`, `GET /api/v1/metrics/history`, `GET /api/v1/metrics/stream` and
    /// `GET /api/v1/alerts`; with profiling on (feature `pprof`), `GET /debug/pprof/profile`.
    /// Each handler is also a plain function in [`handlers`] to mount anywhere.
    pub fn routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let mut router = Router::new()
            .route("/api/v1/metrics", get(handlers::snapshot))
            .route("/metrics", get(handlers::prometheus))
            .route("/health", get(handlers::health))
            .route("/health/ready", get(handlers::ready));
        if self.web().dashboard {
            router = router
                .route("/api/v1/metrics/history", get(handlers::history))
                .route("/api/v1/metrics/stream", get(handlers::stream))
                .route("/api/v1/alerts", get(handlers::alerts))
                .route("/dashboard", get(handlers::dashboard));
        }
        #[cfg(feature = "pprof")]
        if self.web().pprof {
            router = router.route("/debug/pprof/profile", get(handlers::profile));
        }
        router.with_state(self.clone())
    }
}
