//! The example of this crate's README: a collector of your own fills its section of a
//! snapshot, and the derived figures follow. `cargo run -p vitals-core --example own_collector`.

use vitals_core::{CacheCounts, CacheSection, Collector, Snapshot};

/// A source of figures of your own: here, counters a home-made cache keeps.
struct MyCache {
    hits: u64,
    misses: u64,
}

impl Collector for MyCache {
    fn collect(&self, snapshot: &mut Snapshot) {
        let counts = CacheCounts {
            hits: self.hits,
            misses: self.misses,
            ..CacheCounts::default()
        };
        snapshot.cache = Some(CacheSection::from_counts("my-cache", counts));
    }
}

fn main() -> Result<(), serde_json::Error> {
    let mut snapshot = Snapshot::now();
    MyCache { hits: 3, misses: 1 }.collect(&mut snapshot);
    let cache = snapshot.cache.as_ref().expect("filled by the collector");
    assert_eq!(cache.total_reads, 4);
    assert_eq!(cache.hit_rate_percent, 75.0);
    // The document `GET /api/v1/metrics` serves.
    println!("{}", serde_json::to_string_pretty(&snapshot.cache)?);
    Ok(())
}
