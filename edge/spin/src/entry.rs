//! The component's export: `wasi:http/handler` via spin-sdk's `#[http_service]`.
#![allow(unsafe_code)] // the export glue the macro generates

use bytes::Bytes;
use http_body_util::Full;
use spin_sdk::http::Request;

#[spin_sdk::http_service]
async fn handle(request: Request) -> http::Response<Full<Bytes>> {
    crate::serve(request).await.map(Full::new)
}
