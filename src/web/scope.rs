//! The one place a request's scope is applied: [`Scoped`], the extractor every cluster
//! route takes instead of the bare [`AppState`]. It refuses a cluster the viewer may not
//! see (404, as if it did not exist) and gives the request's filter inside the screen's
//! bounds, so no handler can forget either.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::auth::Viewer;
use super::{AppState, json_error};
use crate::state::{Filter, FilterError, FilterParams};

/// A cluster's state as the request's viewer may see it.
pub struct Scoped {
    /// The cluster.
    pub state: web::Data<AppState>,
    /// Who asks.
    pub viewer: Viewer,
}

impl Scoped {
    /// The query's filter, inside the viewer's bounds (an intersection: the URL narrows
    /// a screen's scope, never widens it).
    pub fn filter(&self, query: &str) -> Result<(Filter, FilterParams), FilterError> {
        let (filter, params) = Filter::from_query(query)?;
        Ok((self.bound(filter), params))
    }

    /// `filter` inside the viewer's bounds.
    pub fn bound(&self, filter: Filter) -> Filter {
        match self.viewer.screen() {
            Some(screen) => filter.within(screen.bounds.clone()),
            None => filter,
        }
    }
}

impl std::ops::Deref for Scoped {
    type Target = AppState;
    fn deref(&self) -> &AppState {
        &self.state
    }
}

impl FromRequest for Scoped {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(scoped(req))
    }
}

fn scoped(req: &HttpRequest) -> Result<Scoped, actix_web::Error> {
    let refuse = |status, message: &str| {
        InternalError::from_response("refused", json_error(status, message)).into()
    };
    let (Some(state), Some(viewer)) = (
        req.app_data::<web::Data<AppState>>().cloned(),
        req.extensions().get::<Viewer>().cloned(),
    ) else {
        // Fail closed: a route outside the access middleware, or a state not registered.
        tracing::error!(path = %req.path(), "a cluster route without its viewer or state");
        return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error"));
    };
    if !viewer.sees_cluster(&state.cluster.name) {
        return Err(refuse(StatusCode::NOT_FOUND, "no such cluster"));
    }
    Ok(Scoped { state, viewer })
}
