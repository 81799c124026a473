//! One body type for both directions, so that proxied streams, generated pages
//! and empty bodies share a type without boxing every response.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

pub enum EdgeBody {
    Empty,
    Full(Option<Bytes>),
    Stream(Incoming),
    /// A client request body whose size goes into the access log.
    Counted(Incoming, Arc<AtomicU64>),
}

impl EdgeBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        EdgeBody::Full(Some(bytes.into()))
    }
}

impl Body for EdgeBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            EdgeBody::Empty => Poll::Ready(None),
            EdgeBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            EdgeBody::Stream(inner) => Pin::new(inner).poll_frame(cx),
            EdgeBody::Counted(inner, counter) => {
                let polled = Pin::new(inner).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled
                    && let Some(data) = frame.data_ref()
                {
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            EdgeBody::Empty => true,
            EdgeBody::Full(data) => data.is_none(),
            EdgeBody::Stream(inner) | EdgeBody::Counted(inner, _) => inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EdgeBody::Empty => SizeHint::with_exact(0),
            EdgeBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            EdgeBody::Stream(inner) | EdgeBody::Counted(inner, _) => inner.size_hint(),
        }
    }
}
