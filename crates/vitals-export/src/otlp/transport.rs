//! One POST to the collector over a fresh HTTP/1.1 connection (hyper's client connection,
//! driven inside the caller's future: dropping the future closes the socket).

use bytes::Bytes;
use futures_util::future::{Either, select};
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;

use super::endpoint::Endpoint;

/// Largest response body read (an `ExportMetricsServiceResponse` is a few bytes).
const MAX_RESPONSE: usize = 64 * 1024;

/// What the collector answered.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot read the answer: {0}")]
    Body(String),
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

/// POSTs `payload` as `application/x-protobuf` to `endpoint`. No timeout of its own: the
/// caller bounds it.
pub(crate) async fn post(endpoint: &Endpoint, payload: Bytes) -> Result<Answer, PostError> {
    let stream = tokio::net::TcpStream::connect((endpoint.host(), endpoint.port()))
        .await
        .map_err(PostError::Connect)?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let mut request = Request::post(endpoint.path())
        .header(header::HOST, endpoint.authority())
        .header(header::CONTENT_TYPE, "application/x-protobuf")
        .header(
            header::USER_AGENT,
            concat!("vitals-otlp/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(auth) = endpoint.authorization() {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let request = request.body(Full::new(payload))?;
    let exchange = async move {
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| PostError::Body(e.to_string()))?
            .to_bytes();
        Ok::<_, PostError>(Answer { status, body })
    };
    let exchange = std::pin::pin!(exchange);
    let connection = std::pin::pin!(connection);
    match select(exchange, connection).await {
        Either::Left((answer, _connection)) => answer,
        // The connection ended first (the collector closed it, or an error): whatever the
        // exchange got by then is its result.
        Either::Right((Ok(()), exchange)) => exchange.await,
        Either::Right((Err(e), _)) => Err(PostError::Http(e)),
    }
}
