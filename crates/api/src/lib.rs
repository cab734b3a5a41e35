//! `kujira serve`: the Docker Engine API on a unix socket, over the same engine and
//! store the CLI uses. Each request borrows an engine from a small pool and runs it
//! on a blocking thread; handlers only translate HTTP into engine calls and back.

mod archive;
mod attach;
mod build;
mod containers;
mod error;
mod events;
mod exec;
mod footprint;
mod hijack;
mod image_transfer;
mod images;
mod lifecycle;
mod networks;
mod pool;
mod progress;
mod prune;
mod query;
mod relay;
mod streams;
mod system;
pub mod tls;
mod version;
mod volumes;
mod wait;
mod websocket;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::TokioIo;

pub use error::ApiError;
use pool::EnginePool;

/// What `kujira serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub root: PathBuf,
    /// `unix:///path` addresses to listen on.
    pub hosts: Vec<String>,
    /// The socket's group (mode 0660); `None` keeps root's group.
    pub group: Option<String>,
    /// Logs each request to stderr.
    pub debug: bool,
    /// TLS for the `tcp://` addresses (`--tls`/`--tlsverify`).
    pub tls: Option<tls::TlsFiles>,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub pool: Arc<EnginePool>,
    pub attaches: attach::Attaches,
    pub execs: exec::ExecTable,
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/_ping", get(system::ping).head(system::ping))
        .route("/version", get(system::version))
        .route("/info", get(system::info))
        .route("/auth", post(system::auth))
        .route("/events", get(events::events))
        .route("/images/json", get(images::list))
        .route("/images/create", post(image_transfer::create))
        .route("/images/load", post(image_transfer::load))
        .route("/images/get", get(image_transfer::save_many))
        .route("/images/prune", post(prune::images))
        .route("/images/search", get(images::search))
        .route(
            "/images/{*rest}",
            get(images::get_named)
                .delete(images::delete)
                .post(images::post_named),
        )
        .route("/system/df", get(system::df))
        .route("/distribution/{*rest}", get(images::distribution))
        .route("/containers/prune", post(prune::containers))
        .route("/networks/prune", post(networks::prune))
        .route("/networks/create", post(networks::create))
        .route("/networks", get(networks::list))
        .route(
            "/networks/{id}",
            get(networks::inspect).delete(networks::remove),
        )
        .route("/networks/{id}/connect", post(networks::connect))
        .route("/networks/{id}/disconnect", post(networks::disconnect))
        .route("/build", post(build::build))
        .route("/build/prune", post(build::prune))
        .route("/volumes", get(volumes::list))
        .route("/volumes/create", post(volumes::create))
        .route("/volumes/prune", post(volumes::prune))
        .route(
            "/volumes/{name}",
            get(volumes::inspect).delete(volumes::remove),
        )
        .route("/containers/json", get(containers::list))
        .route("/containers/create", post(containers::create))
        .route("/containers/{id}/json", get(containers::inspect))
        .route("/containers/{id}/start", post(containers::start))
        .route("/containers/{id}/stop", post(containers::stop))
        .route("/containers/{id}/kill", post(containers::kill))
        .route("/containers/{id}/wait", post(wait::wait))
        .route("/containers/{id}/logs", get(containers::logs))
        .route("/containers/{id}/attach", post(attach::attach))
        .route("/containers/{id}/attach/ws", get(attach::attach_ws))
        .route("/containers/{id}/resize", post(attach::resize))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/containers/{id}/restart", post(lifecycle::restart))
        .route("/containers/{id}/pause", post(lifecycle::pause))
        .route("/containers/{id}/unpause", post(lifecycle::unpause))
        .route("/containers/{id}/rename", post(lifecycle::rename))
        .route("/containers/{id}/update", post(lifecycle::update))
        .route("/containers/{id}/top", get(lifecycle::top))
        .route("/containers/{id}/changes", get(lifecycle::changes))
        .route("/containers/{id}/stats", get(lifecycle::stats))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/commit", post(lifecycle::commit))
        .route("/containers/{id}/export", get(archive::export))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/exec/{id}/json", get(exec::inspect))
        .route(
            "/containers/{id}",
            axum::routing::delete(containers::remove),
        )
        .fallback(error::not_found)
        .with_state(state)
}

/// Runs the server until it is killed.
pub fn serve(opts: ServeOptions) -> Result<(), ApiError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ApiError::server(format!("starting the server: {e}")))?;
    rt.block_on(run(opts))
}

async fn run(opts: ServeOptions) -> Result<(), ApiError> {
    version::DEBUG.store(opts.debug, std::sync::atomic::Ordering::Relaxed);
    let state = AppState {
        pool: Arc::new(EnginePool::new(opts.root.clone())),
        attaches: Default::default(),
        execs: Default::default(),
    };
    // Creates a killed server (or CLI) left half-made go before anyone looks.
    let _ = state.pool.run(|e| Ok(e.sweep_unfinished()?)).await;
    let app = router(state);
    footprint::shed_startup_code();
    tokio::spawn(footprint::shed_when_idle());
    let mut tasks = Vec::new();
    for host in &opts.hosts {
        if let Some(path) = host.strip_prefix("unix://") {
            let listener = bind_unix(path, opts.group.as_deref())?;
            tasks.push(tokio::spawn(accept_loop(
                Listener::Unix(listener),
                app.clone(),
            )));
        } else if let Some(addr) = host.strip_prefix("tcp://") {
            let listener = bind_tcp(addr, opts.tls.as_ref().is_some_and(|t| t.verify)).await?;
            let listener = match &opts.tls {
                Some(files) => Listener::Tls(listener, tls::acceptor(files)?),
                None => Listener::Tcp(listener),
            };
            tasks.push(tokio::spawn(accept_loop(listener, app.clone())));
        } else {
            return Err(ApiError::bad_request(format!(
                "{host}: only unix:// and tcp:// addresses are served"
            )));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

fn bind_unix(path: &str, group: Option<&str>) -> Result<tokio::net::UnixListener, ApiError> {
    let _ = std::fs::remove_file(path);
    if let Some(dir) = std::path::Path::new(path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let listener = tokio::net::UnixListener::bind(path)
        .map_err(|e| ApiError::server(format!("listening on {path}: {e}")))?;
    let gid = match group {
        Some(g) => Some(
            nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| ApiError::bad_request(format!("group {g} not found")))?
                .gid,
        ),
        None => nix::unistd::Group::from_name("kujira")
            .ok()
            .flatten()
            .map(|g| g.gid),
    };
    if let Some(gid) = gid {
        nix::unistd::chown(path, Some(nix::unistd::Uid::from_raw(0)), Some(gid))
            .map_err(|e| ApiError::server(format!("chown {path}: {e}")))?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| ApiError::server(format!("chmod {path}: {e}")))?;
    Ok(listener)
}

/// TCP beyond loopback only with `--tlsverify`: anyone who reaches the socket owns
/// the host, so every client must hold a certificate the CA signed.
async fn bind_tcp(addr: &str, verified: bool) -> Result<tokio::net::TcpListener, ApiError> {
    let sock: std::net::SocketAddr = addr
        .parse()
        .map_err(|_| ApiError::bad_request(format!("tcp://{addr}: not an IP:port address")))?;
    if !sock.ip().is_loopback() && !verified {
        return Err(ApiError::bad_request(format!(
            "tcp://{addr}: refusing TCP on a non-loopback address without --tlsverify (clients must prove who they are: use --tlsverify --tlscacert --tlscert --tlskey, a unix socket, or 127.0.0.1)"
        )));
    }
    tokio::net::TcpListener::bind(sock)
        .await
        .map_err(|e| ApiError::server(format!("listening on {addr}: {e}")))
}

enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
    Tls(tokio::net::TcpListener, tokio_rustls::TlsAcceptor),
}

async fn accept_loop(listener: Listener, app: Router) {
    loop {
        match &listener {
            Listener::Unix(l) => {
                if let Ok((stream, _)) = l.accept().await {
                    tokio::spawn(serve_connection(stream, app.clone()));
                }
            }
            Listener::Tcp(l) => {
                if let Ok((stream, _)) = l.accept().await {
                    tokio::spawn(serve_connection(stream, app.clone()));
                }
            }
            Listener::Tls(l, acceptor) => {
                if let Ok((stream, _)) = l.accept().await {
                    let (acceptor, app) = (acceptor.clone(), app.clone());
                    // The handshake on the connection's own task: a slow or hostile
                    // client holds up nobody else; a failed one is just closed.
                    tokio::spawn(async move {
                        let hs = acceptor.accept(stream);
                        if let Ok(Ok(tls)) =
                            tokio::time::timeout(std::time::Duration::from_secs(30), hs).await
                        {
                            serve_connection(tls, app).await;
                        }
                    });
                }
            }
        }
    }
}

async fn serve_connection<S>(stream: S, app: Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move { version::dispatch(app, req).await }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .max_buf_size(1 << 20)
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
}
