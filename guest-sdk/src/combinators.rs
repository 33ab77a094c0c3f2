//! Waiting on several things at once, deterministically.
//!
//! These poll their futures in a fixed order (first to last) and never depend on timing,
//! so a replay makes the same choices. `futures::join!` and `futures::select_biased!` are
//! deterministic too and work in workflows; these need no extra dependency.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Which of two futures finished first, with the other one still running.
#[derive(Debug)]
pub enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Waits for both futures; polls `a` before `b`.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (Box::pin(a), Box::pin(b));
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(move |cx| {
        poll_into(a.as_mut(), &mut out_a, cx);
        poll_into(b.as_mut(), &mut out_b, cx);
        match (out_a.take(), out_b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                out_a = a;
                out_b = b;
                Poll::Pending
            }
        }
    })
    .await
}

/// Waits for every future; polls them in order and returns their outputs in order.
pub async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            poll_into(future.as_mut(), output, cx);
        }
        if outputs.iter().all(Option::is_some) {
            Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Waits for the first of two futures; `a` wins a tie. The loser is handed back so it
/// can still be awaited, cancelled or dropped.
pub fn select<A: Future + Unpin, B: Future + Unpin>(a: A, b: B) -> Select<A, B> {
    Select { pair: Some((a, b)) }
}

/// The future of [`select`].
#[must_use = "futures do nothing unless awaited"]
pub struct Select<A, B> {
    pair: Option<(A, B)>,
}

impl<A: Future + Unpin, B: Future + Unpin> Future for Select<A, B> {
    type Output = Either<(A::Output, B), (B::Output, A)>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some((a, b)) = this.pair.as_mut() else {
            return Poll::Pending;
        };
        if let Poll::Ready(out) = Pin::new(a).poll(cx) {
            return match this.pair.take() {
                Some((_, b)) => Poll::Ready(Either::Left((out, b))),
                None => Poll::Pending,
            };
        }
        if let Poll::Ready(out) = Pin::new(b).poll(cx) {
            return match this.pair.take() {
                Some((a, _)) => Poll::Ready(Either::Right((out, a))),
                None => Poll::Pending,
            };
        }
        Poll::Pending
    }
}

fn poll_into<F: Future>(future: Pin<&mut F>, out: &mut Option<F::Output>, cx: &mut Context<'_>) {
    if out.is_none()
        && let Poll::Ready(value) = future.poll(cx)
    {
        *out = Some(value);
    }
}
