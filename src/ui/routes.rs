//! The page's addresses. Every request passes [`guard`] first; the
//! answers are the embedded assets, JSON, and one Server-Sent Events
//! stream.
//!
//! - `GET /`, `/app.js`, `/style.css`: the page (assets in the binary)
//! - `GET /api/jobs`: the Jobs list
//! - `POST /api/add/preview`, `POST /api/add`: the Add form
//! - `POST /api/run`, `POST /api/stop`: a run of the selected jobs or all
//! - `GET /api/events`: the run as it goes (`state` events)

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::add::{add, AddForm};
use super::guard::{harden, Pass};
use super::load::{self, Unset};
use super::{escape, jobs, App};

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

/// How often at most a listening tab hears of changes.
const TICK: Duration = Duration::from_millis(200);

pub(super) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| asset(SCRIPT, "text/javascript; charset=utf-8")),
        )
        .route(
            "/style.css",
            get(|| asset(STYLE, "text/css; charset=utf-8")),
        )
        .route("/api/jobs", get(job_list))
        .route("/api/add/preview", post(add_preview))
        .route("/api/add", post(add_write))
        .route("/api/run", post(run))
        .route("/api/stop", post(stop))
        .route("/api/events", get(events))
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page") })
        .layer(middleware::from_fn_with_state(app.clone(), guarded))
        .with_state(app)
}

/// The guard, then the handler; every answer hardened.
async fn guarded(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let checked = app.guard.check(req.method(), req.uri(), req.headers());
    let mut response = match checked {
        Err(refusal) => refusal.into_response(),
        Ok(Pass::SetCookie) => app.guard.set_cookie(),
        Ok(Pass::Serve) => next.run(req).await,
    };
    harden(response.headers_mut());
    response
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

/// The page, with the job files it serves named in it.
async fn index(State(app): State<Arc<App>>) -> Response {
    let files: Vec<String> = load::add_targets(&app.paths)
        .iter()
        .map(|p| escape::html(&load::shown(p)))
        .collect();
    let page = INDEX.replace("{{files}}", &files.join(", "));
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn job_list(State(app): State<Arc<App>>) -> Response {
    let (paths, env, runs) = (app.paths.clone(), app.allow_env.clone(), app.runs.clone());
    let loaded = tokio::task::spawn_blocking(move || {
        let plan = load::plan(&paths, &env, Unset::StandIn)?;
        let rows = plan.map_or_else(Vec::new, |p| jobs::rows(&p, &runs.last(), &runs.running()));
        Ok::<_, Vec<crate::common::diag::Problem>>(rows)
    })
    .await;
    let files: Vec<String> = load::add_targets(&app.paths)
        .iter()
        .map(|p| load::shown(p))
        .collect();
    let body = match loaded {
        Ok(Ok(rows)) => json!({ "files": files, "jobs": rows, "problems": null }),
        Ok(Err(problems)) => {
            json!({ "files": files, "jobs": [], "problems": load::problems_text(&problems) })
        }
        Err(e) => {
            json!({ "files": files, "jobs": [], "problems": format!("snatch failed internally: {e}") })
        }
    };
    Json(body).into_response()
}

async fn add_preview(State(app): State<Arc<App>>, Json(form): Json<AddForm>) -> Response {
    add_with(&app, form, true).await
}

async fn add_write(State(app): State<Arc<App>>, Json(form): Json<AddForm>) -> Response {
    add_with(&app, form, false).await
}

async fn add_with(app: &App, form: AddForm, dry_run: bool) -> Response {
    let Some(file) = load::add_targets(&app.paths).get(form.file).cloned() else {
        return (StatusCode::BAD_REQUEST, "no such job file").into_response();
    };
    Json(add(form, file, dry_run).await).into_response()
}

/// `{"jobs": ["a", "b"]}`, or `{"jobs": null}` for all.
#[derive(Debug, Deserialize)]
struct RunAsk {
    jobs: Option<Vec<String>>,
}

async fn run(State(app): State<Arc<App>>, Json(ask): Json<RunAsk>) -> Response {
    if ask.jobs.as_ref().is_some_and(Vec::is_empty) {
        return refuse(
            &app,
            "no job selected: select jobs to run, or run all".into(),
        );
    }
    let tools = match crate::merge::Tools::find() {
        Ok(t) => t,
        Err(e) => return refuse(&app, e.to_string()),
    };
    let (paths, env) = (app.paths.clone(), app.allow_env.clone());
    let loaded = tokio::task::spawn_blocking(move || load::plan(&paths, &env, Unset::Refuse)).await;
    let plan = match loaded {
        Ok(Ok(Some(plan))) => plan,
        Ok(Ok(None)) => return refuse(&app, "no job file yet: add a job first".into()),
        Ok(Err(problems)) => return refuse(&app, load::problems_text(&problems)),
        Err(e) => return refuse(&app, format!("snatch failed internally: {e}")),
    };
    match app.runs.start(plan, ask.jobs, tools) {
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "started": true }))).into_response(),
        Err(busy) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": busy.to_string() })),
        )
            .into_response(),
    }
}

/// A run that cannot start: the page hears why.
fn refuse(app: &App, why: String) -> Response {
    let shown = crate::common::mask::text(&why).into_owned();
    app.runs.refused(shown.clone());
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({ "error": shown })),
    )
        .into_response()
}

async fn stop(State(app): State<Arc<App>>) -> Response {
    Json(json!({ "stopped": app.runs.stop() })).into_response()
}

/// The run's state now, then again after each change (at most every
/// [`TICK`]), until the server stops.
async fn events(State(app): State<Arc<App>>) -> Response {
    let rx = app.runs.watch();
    let first = true;
    let stream =
        futures_util::stream::unfold((app, rx, first), |(app, mut rx, first)| async move {
            if !first {
                tokio::select! {
                    changed = rx.changed() => changed.ok()?,
                    _ = app.shutdown.cancelled() => return None,
                }
                tokio::time::sleep(TICK).await;
            }
            rx.borrow_and_update();
            let data = serde_json::to_string(&app.runs.snapshot()).unwrap_or_default();
            let event = Event::default().event("state").data(data);
            Some((Ok::<_, Infallible>(event), (app, rx, false)))
        });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
