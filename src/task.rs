//! Background tasks that belong to one step: a read started ahead of time must stop when the
//! step that wanted it fails, and a panic inside it must surface where it is awaited.

use tokio::task::JoinHandle;

/// A spawned task that is aborted when its result is no longer wanted.
pub struct Ahead<T>(JoinHandle<T>);

impl<T: Send + 'static> Ahead<T> {
    pub fn spawn(f: impl Future<Output = T> + Send + 'static) -> Ahead<T> {
        Ahead(tokio::spawn(f))
    }

    /// The task's result; a panic inside it resumes here. `None`: it was cancelled (the runtime
    /// is shutting down).
    pub async fn finish(mut self) -> Option<T> {
        self.wait().await
    }

    /// As `finish`, but keeps the task, so a `select!` loop can wait on it beside other work.
    /// Once it has returned, the caller drops the task rather than waiting again.
    pub async fn wait(&mut self) -> Option<T> {
        match (&mut self.0).await {
            Ok(v) => Some(v),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => None,
        }
    }
}

impl<T> Drop for Ahead<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_task_stops_and_a_finished_one_returns() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stopped = Ahead::spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await;
        });
        drop(stopped);
        // The task dropped its sender when it was aborted.
        assert!(rx.await.is_err());
        assert_eq!(Ahead::spawn(async { 7 }).finish().await, Some(7));
    }

    #[tokio::test]
    async fn a_panic_inside_resumes_where_it_is_awaited() {
        let waiting = tokio::spawn(async { Ahead::spawn(async { panic!("inside") }).finish().await });
        let e = waiting.await.expect_err("the panic reached the task that awaited it");
        assert!(e.is_panic());
    }
}
