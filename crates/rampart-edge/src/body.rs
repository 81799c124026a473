//! One body type for both directions, so that proxied streams, generated pages
//! and empty bodies share a type without boxing every response.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use crate::security::body::GuardedBody;

pub enum EdgeBody {
    Empty,
    Full(Option<Bytes>),
    Stream(Incoming),
    /// A client request body: counted for the access log, held to the
    /// site's size limit and the node's minimum data rate.
    Guarded(Box<GuardedBody>),
    /// What was already read of a body (by the WAF), then the rest.
    Prefixed(Option<Bytes>, Box<EdgeBody>),
}

/// Why a body stream failed: hyper's error, or Rampart cut a client's
/// request body short on purpose.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Hyper(#[from] hyper::Error),
    #[error("request body larger than the site allows")]
    TooLarge,
    #[error("request body sent below the minimum data rate")]
    TooSlow,
}

impl From<std::convert::Infallible> for BodyError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl EdgeBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        EdgeBody::Full(Some(bytes.into()))
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            EdgeBody::Empty => Poll::Ready(None),
            EdgeBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            EdgeBody::Stream(inner) => Pin::new(inner)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::Hyper))),
            EdgeBody::Guarded(inner) => Pin::new(&mut **inner).poll_frame(cx),
            EdgeBody::Prefixed(prefix, rest) => match prefix.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Pin::new(&mut **rest).poll_frame(cx),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            EdgeBody::Empty => true,
            EdgeBody::Full(data) => data.is_none(),
            EdgeBody::Stream(inner) => inner.is_end_stream(),
            EdgeBody::Guarded(inner) => inner.is_end_stream(),
            EdgeBody::Prefixed(prefix, rest) => prefix.is_none() && rest.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EdgeBody::Empty => SizeHint::with_exact(0),
            EdgeBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            EdgeBody::Stream(inner) => inner.size_hint(),
            EdgeBody::Guarded(inner) => inner.size_hint(),
            EdgeBody::Prefixed(prefix, rest) => {
                let already = prefix.as_ref().map_or(0, |d| d.len() as u64);
                let rest = rest.size_hint();
                let mut hint = SizeHint::new();
                hint.set_lower(rest.lower().saturating_add(already));
                if let Some(upper) = rest.upper() {
                    hint.set_upper(upper.saturating_add(already));
                }
                hint
            }
        }
    }
}
