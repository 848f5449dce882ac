//! `&MeteredPool` as an sqlx executor and acquirer, the way sqlx makes `&Pool` one
//! (sqlx-core `pool/executor.rs`, `acquire.rs`): each call takes a connection through
//! [`MeteredPool::acquire`], so it is timed and counted, runs on it and gives it back.

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, Database, Describe, Either, Execute, Executor, SqlStr, Transaction};

use crate::MeteredPool;

impl<'p, DB: Database> Executor<'p> for &'_ MeteredPool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let acquire = self.acquire();
        Box::pin(async_stream::try_stream! {
            let mut conn = acquire.await?;
            let mut results = conn.fetch_many(query);
            while let Some(item) = results.try_next().await? {
                yield item;
            }
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let acquire = self.acquire();
        Box::pin(async move {
            let mut conn = acquire.await?;
            conn.fetch_optional(query).await
        })
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        let acquire = self.acquire();
        Box::pin(async move {
            let mut conn = acquire.await?;
            conn.prepare_with(sql, parameters).await
        })
    }

    // The trait has this method whenever sqlx's `macros` feature is on, which this crate
    // turns on itself: an application's sqlx (default features) would turn it on anyway,
    // and an implementation cannot tell.
    #[doc(hidden)]
    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>> {
        let acquire = self.acquire();
        Box::pin(async move {
            let mut conn = acquire.await?;
            conn.describe(sql).await
        })
    }
}

impl<'a, DB: Database> Acquire<'a> for &'_ MeteredPool<DB> {
    type Database = DB;
    type Connection = PoolConnection<DB>;

    fn acquire(self) -> BoxFuture<'static, Result<PoolConnection<DB>, sqlx::Error>> {
        Box::pin(MeteredPool::acquire(self))
    }

    fn begin(self) -> BoxFuture<'static, Result<Transaction<'a, DB>, sqlx::Error>> {
        let acquire = MeteredPool::acquire(self);
        Box::pin(async move { Transaction::begin(acquire.await?, None).await })
    }
}
