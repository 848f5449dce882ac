//! `database.pool_size` against what PostgreSQL itself reports. Alone in its test binary so
//! no other test's connections carry the same application name while it counts.

mod common;

use std::time::{Duration, Instant};

use common::{embedded, get, state};
use vitals_server::{Settings, app};

#[tokio::test]
async fn pool_size_matches_pg_stat_activity_once_quiet() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        database_url: Some(common::postgres_url()),
        pool_min: 3,
        pool_max: 6,
        ..embedded(&dir)
    };
    let state = state(&settings).await;
    let app = app(state.clone());
    // Make the pool grow past its minimum (five connections held at once), then let it go
    // quiet.
    let vitals_server::db::Db::Postgres(pool) = state.db().clone() else {
        panic!("a PostgreSQL pool");
    };
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(pool.acquire().await.expect("acquire"));
    }
    drop(held);

    let observer = sqlx::PgPool::connect(&common::postgres_url())
        .await
        .expect("observer connects");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let doc = get(&app, "/api/v1/metrics").await.json;
        let size = doc["database"]["pool_size"].as_i64().expect("size");
        let active = doc["database"]["pool_active"].as_i64().expect("active");
        let seen: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
        )
        .bind(vitals_server::db::APPLICATION_NAME)
        .fetch_one(&observer)
        .await
        .expect("pg_stat_activity");
        if active == 0 && size == seen && size >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pool_size {size} (active {active}) never matched PostgreSQL's {seen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
