//! The routes the API has, from its own OpenAPI document, so that a known path called with the wrong
//! method answers 405 with `Allow` rather than 404.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use crate::error::ApiError;
use crate::web_app::WebApp;

/// Every documented path template with its methods.
pub struct KnownRoutes {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl KnownRoutes {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(method, present)| present.then_some(method))
                .collect();
                (template.split('/').map(str::to_owned).collect(), methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods of the route `path` belongs to, if it belongs to one (`{param}` matches any segment).
    pub fn methods_for(&self, path: &str) -> Option<&[&'static str]> {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(expected, actual)| expected == actual || expected.starts_with('{') && !actual.is_empty())
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

/// What answers when no route matched: the web app for its pages, 405 for a known API path, 404 otherwise.
pub async fn no_route(
    req: HttpRequest,
    routes: web::Data<KnownRoutes>,
    web_app: Option<web::Data<WebApp>>,
) -> HttpResponse {
    if let Some(page) = web_app.and_then(|app| app.respond(&req)) {
        return page;
    }
    match routes.methods_for(req.path()) {
        Some(methods) => {
            let mut response = ApiError::MethodNotAllowed.error_response();
            if let Ok(allow) = header::HeaderValue::from_str(&methods.join(", ")) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            response
        }
        None => ApiError::RouteNotFound.error_response(),
    }
}
