//! The request id: taken from `X-Request-Id` when the caller sends a sane one, generated otherwise, echoed on
//! every response and printed on every log line written while the request is served.

use std::cell::RefCell;

/// The header that carries the request id both ways.
pub const HEADER: &str = "x-request-id";

const MAX_LEN: usize = 128;

tokio::task_local! {
    static TASK_REQUEST_ID: String;
}

thread_local! {
    // Blocking database work runs on another thread than the request's task; `db::run` carries the id over.
    static THREAD_REQUEST_ID: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The id of the request being served on this task or thread, if any.
pub fn current() -> Option<String> {
    TASK_REQUEST_ID.try_with(Clone::clone).ok().or_else(|| THREAD_REQUEST_ID.with(|id| id.borrow().clone()))
}

/// Runs `future` with `id` as the current request id.
pub async fn scope<F: std::future::Future>(id: String, future: F) -> F::Output {
    TASK_REQUEST_ID.scope(id, future).await
}

/// Runs blocking `work` with `id` as this thread's request id.
pub fn with_thread_request_id<T>(id: Option<String>, work: impl FnOnce() -> T) -> T {
    let previous = THREAD_REQUEST_ID.with(|slot| slot.replace(id));
    let result = work();
    THREAD_REQUEST_ID.with(|slot| slot.replace(previous));
    result
}

/// The caller's id when it is short and made of safe characters (it ends up in logs), else a new UUID.
pub fn accept_or_generate(incoming: Option<&str>) -> String {
    match incoming {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_LEN
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')) =>
        {
            id.to_owned()
        }
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::accept_or_generate;

    #[test]
    fn a_sane_incoming_id_is_kept_and_a_hostile_one_replaced() {
        assert_eq!(accept_or_generate(Some("abc-123")), "abc-123");
        let replaced = accept_or_generate(Some("evil\nlog line"));
        assert!(uuid::Uuid::parse_str(&replaced).is_ok());
        assert!(uuid::Uuid::parse_str(&accept_or_generate(Some(&"a".repeat(500)))).is_ok());
    }
}
