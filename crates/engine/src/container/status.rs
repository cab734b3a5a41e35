//! How a container's state reads in `ps` and in the API's container list (`Status`):
//! Docker's wording, made by the daemon in Docker, so here by the engine.

use super::Container;

pub fn unix_of(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.timestamp())
        .unwrap_or(0)
}

/// "Up 5 seconds", "Exited (0) 2 minutes ago", "Created", … as Docker words them.
pub fn status_text(c: &Container) -> String {
    let st = &c.row.state;
    let now = chrono::Utc::now().timestamp();
    match st.status.as_str() {
        "running" => format!("Up {}", human_duration(now - unix_of(&st.started_at))),
        "paused" => format!(
            "Up {} (Paused)",
            human_duration(now - unix_of(&st.started_at))
        ),
        "restarting" => format!(
            "Restarting ({}) {} ago",
            st.exit_code,
            human_duration(now - unix_of(&st.finished_at))
        ),
        "exited" => format!(
            "Exited ({}) {} ago",
            st.exit_code,
            human_duration(now - unix_of(&st.finished_at))
        ),
        "created" => "Created".into(),
        "dead" => "Dead".into(),
        other => other.to_string(),
    }
}

/// `units.HumanDuration`.
pub fn human_duration(secs: i64) -> String {
    let s = secs;
    if s < 1 {
        return "Less than a second".into();
    }
    if s == 1 {
        return "1 second".into();
    }
    if s < 60 {
        return format!("{s} seconds");
    }
    let minutes = s / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go rounds to the nearest hour here (half away from zero).
    let hours = (s + 1800) / 3600;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", s / 3600 / 24 / 365)
}
