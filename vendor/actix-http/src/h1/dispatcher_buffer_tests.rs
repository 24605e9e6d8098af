use std::{cell::Cell, pin::pin};

use actix_service::fn_service;
use tokio::io::ReadBuf;

use super::*;
use crate::{
    config::ServiceConfigBuilder,
    h1::{ExpectHandler, UpgradeHandler},
    test::TestBuffer,
};

/// Stops accepting writes after a shared byte budget is exhausted.
///
/// The test can restore the budget and poll the dispatcher again, as if the socket became writable.
struct LimitedWriter {
    io: TestBuffer,
    allowance: Rc<Cell<usize>>,
}

impl AsyncRead for LimitedWriter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len().min(self.allowance.get());

        if len == 0 {
            // The test polls manually after restoring the budget, so no wakeup is needed.
            return Poll::Pending;
        }

        let written = ready!(Pin::new(&mut self.io).poll_write(cx, &buf[..len]))?;
        self.allowance.set(self.allowance.get() - written);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// podwall: checks that a connection holds no buffer once it is idle, and that responses
/// are complete, on a persistent HTTP/1 connection.
///
/// - `body_len`: Response body length in bytes, sent as one chunk for each request.
/// - `threshold`: Configured HTTP/1 write-buffer watermark in bytes.
/// - `partial`: If true, block writes after `body_len - 1024` bytes, including headers,
///   then resume them. Requires `body_len > 1024`.
async fn check_buffers_released(body_len: usize, threshold: usize, partial: bool) {
    let mut io = TestBuffer::new("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // The budget includes response headers; a small unwritten tail stays in the buffer.
    let allowance = Rc::new(Cell::new(if partial {
        body_len - 1024
    } else {
        usize::MAX
    }));
    let services = HttpFlow::new(
        fn_service(move |_: Request| async move {
            // A single body chunk forces the output buffer to hold the large response.
            Ok::<_, Error>(Response::ok().set_body(bytes::Bytes::from(vec![b'x'; body_len])))
        }),
        ExpectHandler,
        None::<UpgradeHandler>,
    );
    let dispatcher = Dispatcher::new(
        LimitedWriter {
            io: io.clone(),
            allowance: allowance.clone(),
        },
        services,
        ServiceConfigBuilder::new()
            .h1_write_buffer_size(threshold)
            .build(),
        None,
        OnConnectData::default(),
    );
    let mut dispatcher = pin!(dispatcher);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());

    // Pending is expected even after a complete response: the keep-alive
    // connection stays open and waits for another request.
    assert!(dispatcher.as_mut().poll(&mut cx).is_pending());

    if partial {
        let DispatcherState::Normal { inner } = &dispatcher.inner else {
            panic!()
        };
        // A blocked write keeps its unwritten tail.
        assert!(!inner.write_buf.is_empty());
        assert_eq!(io.write_buf_slice().len(), body_len - 1024);

        // Let the dispatcher finish the same response after the simulated blocked write.
        allowance.set(usize::MAX);
        assert!(dispatcher.as_mut().poll(&mut cx).is_pending());
    }

    assert_idle_without_buffers(&dispatcher.inner);

    let response = io.take_write_buf();
    // Compare the complete body separately from the generated HTTP headers.
    // Releasing the buffer must not come at the cost of missing response bytes.
    let body_start = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap()
        + 4;
    assert_eq!(&response[body_start..], vec![b'x'; body_len]);

    // The connection must remain usable, including after a partial write.
    io.extend_read_buf("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert!(dispatcher.as_mut().poll(&mut cx).is_pending());
    let second_response = io.take_write_buf();
    let second_body_start = second_response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap()
        + 4;
    assert_eq!(
        &second_response[second_body_start..],
        &response[body_start..]
    );
    assert_idle_without_buffers(&dispatcher.inner);
}

/// Asserts the dispatcher waits with empty read and write buffers that own no allocation.
fn assert_idle_without_buffers<T, S, B, X, U>(state: &DispatcherState<T, S, B, X, U>)
where
    T: AsyncRead + AsyncWrite + Unpin,
    S: Service<Request>,
    S::Error: Into<Response<BoxBody>>,
    S::Response: Into<Response<B>>,
    B: MessageBody,
    X: Service<Request, Response = Request>,
    X::Error: Into<Response<BoxBody>>,
    U: Service<(Request, Framed<T, Codec>), Response = ()>,
    U::Error: fmt::Display,
{
    let DispatcherState::Normal { inner } = state else {
        panic!()
    };
    assert!(inner.write_buf.is_empty());
    assert_eq!(inner.write_buf.capacity(), 0, "idle write buffer kept");
    assert!(inner.read_buf.is_empty());
    assert_eq!(inner.read_buf.capacity(), 0, "idle read buffer kept");
}

#[actix_rt::test]
async fn oversized_write_buffer_released_after_flush() {
    check_buffers_released(1024 * 1024, 32 * 1024, false).await;
}

#[actix_rt::test]
async fn oversized_write_buffer_released_after_partial_write() {
    check_buffers_released(1024 * 1024, 32 * 1024, true).await;
}

#[actix_rt::test]
async fn small_write_buffer_released_after_flush() {
    check_buffers_released(1024, 32 * 1024, false).await;
}

#[actix_rt::test]
async fn write_buffer_above_small_watermark_released() {
    check_buffers_released(64 * 1024, 8 * 1024, false).await;
}

#[actix_rt::test]
async fn write_buffer_with_large_watermark_released() {
    check_buffers_released(256 * 1024, 1024 * 1024, false).await;
}

/// podwall: a request head larger than the idle read buffer's first 1 KiB still parses.
#[actix_rt::test]
async fn large_request_after_idle_parses() {
    let mut io = TestBuffer::new("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let services = HttpFlow::new(
        fn_service(|req: Request| async move {
            let cookie = req.headers().get("cookie").map_or(0, |v| v.len());
            Ok::<_, Error>(Response::ok().set_body(cookie.to_string()))
        }),
        ExpectHandler,
        None::<UpgradeHandler>,
    );
    let dispatcher = Dispatcher::new(
        io.clone(),
        services,
        ServiceConfigBuilder::new().build(),
        None,
        OnConnectData::default(),
    );
    let mut dispatcher = pin!(dispatcher);
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());

    assert!(dispatcher.as_mut().poll(&mut cx).is_pending());
    assert_idle_without_buffers(&dispatcher.inner);
    assert!(io.take_write_buf().ends_with(b"\r\n\r\n0"));

    let cookie = "c".repeat(6000);
    io.extend_read_buf(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nCookie: {cookie}\r\n\r\n"
    ));
    assert!(dispatcher.as_mut().poll(&mut cx).is_pending());
    assert!(io.take_write_buf().ends_with(b"\r\n\r\n6000"));
    assert_idle_without_buffers(&dispatcher.inner);
}
