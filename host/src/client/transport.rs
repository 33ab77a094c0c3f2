//! The gRPC transport under every connection: tonic over a channel of our own, so that
//! each response passes the failure-chain guard ([`crate::failure_chain::wire`]) before
//! prost decodes it.
//!
//! `temporalio-client` routes all calls of a connection through a
//! [`CallbackBasedGrpcService`] when one is given, handing it the request's encoded bytes
//! and headers and taking back the response's; its interceptors (identity, API key,
//! headers), retries and metrics stay above this layer. Without the guard, a failure
//! chain deeper than prost's 100 levels (which the server accepts from any SDK) makes the
//! response that carries it undecodable: a worker would poll the same workflow task
//! forever and never activate it.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use temporalio_client::callback_based::{
    CallbackBasedGrpcService, GrpcRequest, GrpcSuccessResponse,
};
use temporalio_client::tonic::codec::{
    Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder,
};
use temporalio_client::tonic::codegen::http::uri::PathAndQuery;
use temporalio_client::tonic::codegen::http::{HeaderMap, HeaderName};
use temporalio_client::tonic::metadata::MetadataMap;
use temporalio_client::tonic::transport::{Channel, Endpoint};
use temporalio_client::tonic::{self, Status};

use crate::failure_chain::wire::bound_response;
use crate::settings::TlsSettings;

/// The largest response accepted, as `temporalio-client` has it: 128 MiB, or
/// `TEMPORAL_MAX_INCOMING_GRPC_BYTES`.
fn max_response_bytes() -> usize {
    std::env::var("TEMPORAL_MAX_INCOMING_GRPC_BYTES")
        .ok()
        .and_then(|bytes| bytes.parse().ok())
        .unwrap_or(128 << 20)
}

/// Responses larger than this are walked on a blocking thread: a walk that rewrites
/// copies the messages around what it cuts.
const WALK_INLINE_BYTES: usize = 1 << 20;

/// HTTP/2 keep-alive, as `temporalio-client` sets it by default: a ping every 30 s on an
/// idle connection, and a dead connection noticed 15 s after a ping goes unanswered.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Headers that describe one hop's framing, not the call; tonic sets its own.
const HOP_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "te",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-status",
    "grpc-message",
];

/// Connects a channel to `url` (within `connect_timeout`, TLS handshake included) and
/// wraps it as the service a `temporalio-client` connection routes its calls through.
/// With `tls`, `url` must be `https://`: tonic speaks plain text to an `http://` URL
/// whatever its TLS settings.
///
/// Unlike `temporalio-client`'s own transport, requests are sent uncompressed (responses
/// may come gzipped), and a host name is resolved when the channel connects rather than
/// spread over every address it resolves to.
pub(crate) async fn connect(
    url: &str,
    connect_timeout: Duration,
    tls: Option<&TlsSettings>,
) -> Result<CallbackBasedGrpcService, tonic::transport::Error> {
    let mut endpoint = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(connect_timeout)
        .keep_alive_while_idle(true)
        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(KEEP_ALIVE_TIMEOUT);
    if let Some(tls) = tls {
        endpoint = super::tls::configure(endpoint, tls, connect_timeout)?;
    }
    let channel = endpoint.connect().await?;
    let tls = tls.is_some();
    let grpc = tonic::client::Grpc::new(channel)
        .max_decoding_message_size(max_response_bytes())
        .accept_compressed(CompressionEncoding::Gzip);
    Ok(CallbackBasedGrpcService {
        callback: Arc::new(move |request| Box::pin(call(grpc.clone(), request, tls))),
    })
}

async fn call(
    mut grpc: tonic::client::Grpc<Channel>,
    request: GrpcRequest,
    tls: bool,
) -> Result<GrpcSuccessResponse, Status> {
    let path = PathAndQuery::try_from(format!("/{}/{}", request.service, request.rpc))
        .map_err(|e| Status::internal(format!("invalid gRPC method path: {e}")))?;
    let mut outgoing = tonic::Request::new(request.proto);
    *outgoing.metadata_mut() = MetadataMap::from_headers(without_hop_headers(request.headers));
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("the connection is not ready: {e}")))?;
    let response = grpc
        .unary(outgoing, path, RawCodec)
        .await
        .map_err(|status| explained(status, tls))?;
    let (metadata, body, _) = response.into_parts();
    let bounded = if body.len() > WALK_INLINE_BYTES {
        let (service, rpc, body) = (request.service, request.rpc, body.clone());
        tokio::task::spawn_blocking(move || bound_response(&service, &rpc, &body))
            .await
            .map_err(|e| Status::internal(format!("the response check stopped: {e}")))?
    } else {
        bound_response(&request.service, &request.rpc, &body)
    };
    let proto = bounded.unwrap_or_else(|| Vec::from(body));
    Ok(GrpcSuccessResponse {
        headers: without_hop_headers(metadata.into_headers()),
        proto,
    })
}

/// A transport failure whose cause the TLS settings can fix, said in words: the layers
/// above keep a status's message but not its source.
fn explained(status: Status, tls: bool) -> Status {
    // Only a transport failure has a source; a server's own answer is kept as it is.
    let Some(source) = std::error::Error::source(&status) else {
        return status;
    };
    match super::tls::explain(source, tls) {
        Some(reason) => Status::new(status.code(), format!("{TLS_FAILURE}{reason}")),
        None => status,
    }
}

/// How a status made by [`explained`] begins.
pub(super) const TLS_FAILURE: &str = "TLS failed: ";

fn without_hop_headers(mut headers: HeaderMap) -> HeaderMap {
    for name in HOP_HEADERS {
        headers.remove(HeaderName::from_static(name));
    }
    headers
}

/// Passes encoded messages through as they are: the request is already encoded by the
/// client above, and the response is decoded there after the guard.
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
