//! The platform's TLS (OpenSSL on Linux) for the tokio-postgres executor (`tls-native-tls`),
//! as sqlx's `tls-native-tls` gives it to the sqlx executor: the system's trusted roots plus
//! `sslrootcert`, `verify-ca` accepting a certificate for another name, `prefer`/`require`
//! without a root checking nothing, a client identity from `sslcert` and a PKCS #8 `sslkey`.
//! The connector is tokio-postgres's TLS traits over `tokio-native-tls`, as the
//! `postgres-native-tls` crate writes them (which would pull in tokio-postgres for builds
//! without the executor).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};

use crate::async_database_functions::core::error::DatabaseError;

use super::super::connect::Tls;
use super::tls_trust::{Verify, certs, pem};

/// Makes a TLS connector per connection, for the host it connects to.
#[derive(Clone)]
pub(crate) struct MakeConnector(native_tls::TlsConnector);

/// The native-tls connector for `tls`, checking what `verify` names.
///
/// # Errors
///
/// A configuration error naming the key when a certificate or key cannot be read or used.
pub(crate) fn connector(tls: &Tls<'_>, verify: Verify) -> Result<MakeConnector, DatabaseError> {
    let mut builder = native_tls::TlsConnector::builder();
    match verify {
        Verify::Nothing => {
            builder.danger_accept_invalid_certs(true);
        }
        Verify::Chain => {
            builder.danger_accept_invalid_hostnames(true);
        }
        Verify::Full => {}
    }
    if verify != Verify::Nothing
        && let Some(root) = tls.root_cert
    {
        for der in certs(root, "sslrootcert")? {
            let cert = native_tls::Certificate::from_der(&der)
                .map_err(|e| DatabaseError::config(format!("connect_args.sslrootcert: {e}")))?;
            builder.add_root_certificate(cert);
        }
    }
    if let (Some(cert), Some(key)) = (tls.client_cert, tls.client_key) {
        let chain = pem(cert, "sslcert")?;
        let key = pem(key, "sslkey")?;
        let identity = native_tls::Identity::from_pkcs8(&chain, &key).map_err(|e| {
            DatabaseError::config(format!(
                "connect_args.sslcert/sslkey: not a PEM certificate and PKCS #8 key: {e}"
            ))
        })?;
        builder.identity(identity);
    }
    let connector = builder
        .build()
        .map_err(|e| DatabaseError::config(format!("TLS: {e}")))?;
    Ok(MakeConnector(connector))
}

impl<S> MakeTlsConnect<S> for MakeConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type TlsConnect = HostConnector;
    type Error = native_tls::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<HostConnector, native_tls::Error> {
        Ok(HostConnector {
            connector: tokio_native_tls::TlsConnector::from(self.0.clone()),
            domain: domain.to_string(),
        })
    }
}

/// One connection's TLS handshake, to `domain`.
pub(crate) struct HostConnector {
    connector: tokio_native_tls::TlsConnector,
    domain: String,
}

type Handshake<S> = Pin<Box<dyn Future<Output = Result<TlsStream<S>, native_tls::Error>> + Send>>;

impl<S> TlsConnect<S> for HostConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = TlsStream<S>;
    type Error = native_tls::Error;
    type Future = Handshake<S>;

    fn connect(self, stream: S) -> Handshake<S> {
        let stream = BufReader::with_capacity(8192, stream);
        Box::pin(async move {
            let stream = self.connector.connect(&self.domain, stream).await?;
            Ok(TlsStream(stream))
        })
    }
}

/// A connection's stream under TLS.
pub(crate) struct TlsStream<S>(tokio_native_tls::TlsStream<BufReader<S>>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> tokio_postgres::tls::TlsStream for TlsStream<S> {
    /// SCRAM's channel binding to the server's certificate (`tls-server-end-point`).
    fn channel_binding(&self) -> ChannelBinding {
        match self.0.get_ref().tls_server_end_point().ok().flatten() {
            Some(hash) => ChannelBinding::tls_server_end_point(hash),
            None => ChannelBinding::none(),
        }
    }
}
