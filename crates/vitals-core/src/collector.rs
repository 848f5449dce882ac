use crate::Snapshot;

/// A source of figures that fills its own part of a [`Snapshot`].
///
/// `collect` runs on the request path of `GET /api/v1/metrics`, so it must only read figures
/// already at hand (atomics, the last sample of a background sampler, a pool's counters): no
/// I/O, no waiting, no measurement. A collector whose source fails keeps its last good values
/// (or zeros) and says so in its section's `error` field rather than failing the snapshot.
///
/// ```
/// use vitals_core::{Collector, Snapshot};
///
/// struct Fixed;
/// impl Collector for Fixed {
///     fn collect(&self, snapshot: &mut Snapshot) {
///         snapshot.system.cpu_percent = 12.5;
///     }
/// }
///
/// let mut snapshot = Snapshot::now();
/// Fixed.collect(&mut snapshot);
/// assert_eq!(snapshot.system.cpu_percent, 12.5);
/// ```
pub trait Collector: Send + Sync {
    /// Writes this collector's figures into `snapshot`.
    fn collect(&self, snapshot: &mut Snapshot);
}

impl<C: Collector + ?Sized> Collector for std::sync::Arc<C> {
    fn collect(&self, snapshot: &mut Snapshot) {
        (**self).collect(snapshot);
    }
}
