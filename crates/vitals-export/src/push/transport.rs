//! One POST to a receiver over a fresh HTTP/1.1 connection (hyper's client connection,
//! driven inside the caller's future: dropping the future closes the socket), in TLS for an
//! `https://` endpoint.

use bytes::Bytes;
use futures_util::future::{Either, select};
use http::{HeaderName, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::rt::{Read, Write};
use hyper_util::rt::TokioIo;

use super::endpoint::Endpoint;

/// Largest response body read (the answers of OTLP and remote-write receivers are a few
/// bytes, or a line of error text).
const MAX_RESPONSE: usize = 64 * 1024;

/// What every POST of one exporter carries: where, with which headers, and how to trust an
/// `https://` receiver.
#[derive(Clone)]
pub(crate) struct Wire {
    pub(crate) endpoint: Endpoint,
    /// Headers besides `Host`, `Authorization` and `Content-Length` (hyper writes that one).
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<tokio_rustls::TlsConnector>,
}

impl Wire {
    /// POSTs to `endpoint` with `headers`, in plain HTTP (see [`Wire::with_tls`]).
    pub(crate) fn new(endpoint: Endpoint, headers: Vec<(HeaderName, HeaderValue)>) -> Self {
        Self {
            endpoint,
            headers,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// For an `https://` endpoint: TLS, trusting `ca` or else the system's store.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(
        mut self,
        ca: Option<&super::tls::CaCertificates>,
    ) -> std::io::Result<Self> {
        if self.endpoint.is_tls() {
            self.tls = Some(super::tls::connector(ca)?);
        }
        Ok(self)
    }
}

/// What the receiver answered.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) body: Bytes,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PostError {
    #[error("cannot connect: {0}")]
    Connect(std::io::Error),
    #[cfg(feature = "tls")]
    #[error("TLS handshake failed: {0}")]
    Tls(std::io::Error),
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot read the answer: {0}")]
    Body(String),
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

/// POSTs `payload` to the wire's endpoint. No timeout of its own: the caller bounds it.
pub(crate) async fn post(wire: &Wire, payload: Bytes) -> Result<Answer, PostError> {
    let endpoint = &wire.endpoint;
    let stream = tokio::net::TcpStream::connect((endpoint.host(), endpoint.port()))
        .await
        .map_err(PostError::Connect)?;
    let _ = stream.set_nodelay(true);
    let mut request = Request::post(endpoint.target()).header(header::HOST, endpoint.authority());
    for (name, value) in &wire.headers {
        request = request.header(name, value);
    }
    if let Some(auth) = endpoint.authorization() {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let request = request.body(Full::new(payload))?;
    #[cfg(feature = "tls")]
    if let Some(connector) = &wire.tls {
        let name = rustls::pki_types::ServerName::try_from(endpoint.host().to_owned())
            .map_err(|e| PostError::Tls(std::io::Error::other(e)))?;
        let stream = connector
            .connect(name, stream)
            .await
            .map_err(PostError::Tls)?;
        return exchange(TokioIo::new(stream), request).await;
    }
    exchange(TokioIo::new(stream), request).await
}

/// Sends `request` over `io` and reads the answer.
async fn exchange<IO>(io: IO, request: Request<Full<Bytes>>) -> Result<Answer, PostError>
where
    IO: Read + Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
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
        // The connection ended first (the receiver closed it, or an error): whatever the
        // exchange got by then is its result.
        Either::Right((Ok(()), exchange)) => exchange.await,
        Either::Right((Err(e), _)) => Err(PostError::Http(e)),
    }
}
