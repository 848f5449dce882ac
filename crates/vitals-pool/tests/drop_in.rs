//! `MeteredPool` stands in for `sqlx::Pool`: every form an application uses compiles against
//! it unchanged, and each connection taken through it is counted and timed, against the real
//! PostgreSQL of this machine (a database of the test's own).

use futures_util::TryStreamExt;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Acquire, Executor, PgPool, Postgres, Row};
use vitals_core::{Collector, Snapshot};
use vitals_pool::MeteredPool;
use vitals_testkit::OwnDatabase;

/// Code written against `Acquire`, as sqlx's docs suggest for "a pool or a connection".
async fn through_acquire<'a, A>(conn: A) -> Result<i64, sqlx::Error>
where
    A: Acquire<'a, Database = Postgres>,
{
    let mut conn = conn.acquire().await?;
    sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut *conn)
        .await
}

/// A transaction begun through `Acquire`.
async fn insert_through_acquire_begin<'a, A>(conn: A, name: &str) -> Result<(), sqlx::Error>
where
    A: Acquire<'a, Database = Postgres>,
{
    let mut tx = conn.begin().await?;
    sqlx::query("INSERT INTO items (name) VALUES ($1)")
        .bind(name)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Code written against any Postgres executor.
async fn count_with<'e>(executor: impl sqlx::PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(executor)
        .await
}

/// Code that names the plain pool type: it still accepts the metered pool (by deref).
async fn legacy(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(pool)
        .await
}

#[tokio::test]
async fn every_form_compiles_and_every_connection_taken_is_counted() {
    let db = OwnDatabase::create();
    let pool: MeteredPool<Postgres> = MeteredPool::new(
        PgPoolOptions::new()
            .max_connections(3)
            .connect(&db.url())
            .await
            .expect("connect"),
    );
    // Connections the test takes through the metered pool, form by form.
    let mut taken = 0_u64;

    // Executor on &pool: execute, fetch_one, fetch_all, fetch_optional, fetch (a stream).
    sqlx::query("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)")
        .execute(&pool)
        .await
        .expect("execute");
    taken += 1;
    for name in ["a", "b", "c"] {
        sqlx::query("INSERT INTO items (name) VALUES ($1)")
            .bind(name)
            .execute(&pool)
            .await
            .expect("insert");
        taken += 1;
    }
    let row = sqlx::query("SELECT name FROM items WHERE id = 1")
        .fetch_one(&pool)
        .await
        .expect("fetch_one");
    assert_eq!(row.get::<String, _>("name"), "a");
    taken += 1;
    let rows = sqlx::query("SELECT name FROM items ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("fetch_all");
    assert_eq!(rows.len(), 3);
    taken += 1;
    let none = sqlx::query("SELECT name FROM items WHERE id = 99")
        .fetch_optional(&pool)
        .await
        .expect("fetch_optional");
    assert!(none.is_none());
    taken += 1;
    let mut names = Vec::new();
    let mut stream = sqlx::query("SELECT name FROM items ORDER BY id").fetch(&pool);
    while let Some(row) = stream.try_next().await.expect("stream") {
        names.push(row.get::<String, _>("name"));
    }
    drop(stream);
    assert_eq!(names, ["a", "b", "c"]);
    taken += 1;

    // query_as and query_scalar.
    let pairs: Vec<(i32, String)> = sqlx::query_as("SELECT id, name FROM items ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("query_as");
    assert_eq!(pairs[2], (3, "c".to_owned()));
    taken += 1;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await
        .expect("query_scalar");
    assert_eq!(count, 3);
    taken += 1;

    // Raw SQL through the Executor trait's own methods, and a prepared statement.
    pool.execute("UPDATE items SET name = upper(name)")
        .await
        .expect("Executor::execute on a &str");
    taken += 1;
    let _statement = (&pool)
        .prepare(sqlx::SqlSafeStr::into_sql_str(
            "SELECT name FROM items WHERE id = $1",
        ))
        .await
        .expect("prepare");
    taken += 1;

    // Transactions: begin, begin_with, and a rolled-back one.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("INSERT INTO items (name) VALUES ('d')")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    sqlx::query("INSERT INTO items (name) VALUES ('e')")
        .execute(&mut *tx)
        .await
        .expect("second insert in the same tx");
    tx.commit().await.expect("commit");
    taken += 1;
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
        .await
        .expect("begin_with");
    let level: String = sqlx::query_scalar("SHOW transaction_isolation")
        .fetch_one(&mut *tx)
        .await
        .expect("isolation");
    assert_eq!(level, "serializable");
    tx.rollback().await.expect("rollback");
    taken += 1;

    // acquire(): one connection, several queries.
    let mut conn = pool.acquire().await.expect("acquire");
    sqlx::query("SELECT 1")
        .execute(&mut *conn)
        .await
        .expect("q1");
    sqlx::query("SELECT 2")
        .execute(&mut *conn)
        .await
        .expect("q2");
    drop(conn);
    taken += 1;

    // The Acquire trait: acquire and begin, and a generic executor.
    assert_eq!(through_acquire(&pool).await.expect("Acquire::acquire"), 5);
    taken += 1;
    insert_through_acquire_begin(&pool, "f")
        .await
        .expect("Acquire::begin");
    taken += 1;
    assert_eq!(count_with(&pool).await.expect("PgExecutor"), 6);
    taken += 1;

    // sqlx's migrator takes its connection through Acquire as well.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("1_tags.sql"),
        "CREATE TABLE tags (name text PRIMARY KEY);",
    )
    .expect("write migration");
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("migrations");
    migrator.run(&pool).await.expect("migrate");
    taken += 1;

    // Not through the metered pool: not counted, but the pool figures still see it.
    assert_eq!(legacy(&pool).await.expect("&PgPool by deref"), 6);
    assert_eq!(legacy(pool.pool()).await.expect("the inner pool"), 6);

    let mut snapshot = Snapshot::now();
    pool.collect(&mut snapshot);
    let s = snapshot.database.expect("the pool fills `database`");
    assert_eq!(s.acquires_total, taken, "one acquire per connection taken");
    assert_eq!(s.acquire_errors_total, 0);
    assert_eq!(
        pool.acquire_wait().count,
        taken,
        "every acquire's wait is timed"
    );
    assert!(s.pool_size >= 1 && s.pool_size <= 3, "{s:?}");
    pool.close().await;
}

/// A failing acquire through each kind of form is counted as an acquire and an error.
#[tokio::test]
async fn failed_acquires_are_counted_whatever_the_form() {
    // Nothing listens on this port: every connection attempt is refused.
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/none",
        vitals_testkit::free_port()
    );
    let pool: MeteredPool<Postgres> = MeteredPool::new(
        PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_millis(300))
            .connect_lazy(&url)
            .expect("a valid URL"),
    );
    assert!(sqlx::query("SELECT 1").execute(&pool).await.is_err());
    assert!(pool.begin().await.is_err());
    assert!(pool.acquire().await.is_err());
    assert!(through_acquire(&pool).await.is_err());
    let f = pool.figures();
    assert_eq!(
        (f.acquires, f.acquire_errors, f.acquire_timeouts),
        (4, 4, 4)
    );
    assert_eq!((f.size, f.idle), (0, 0), "nothing was ever open");
}
