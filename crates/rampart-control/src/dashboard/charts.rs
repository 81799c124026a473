//! Traffic charts as SVG, drawn on the server: requests (line and area),
//! blocked (dashed) and challenged (dotted) per minute. Colour is never
//! the only difference between series, the SVG has a title and a
//! description, and the numbers are also in a table for screen readers.

use std::fmt::Write as _;

use maud::{Markup, html};

use super::format::{clock, count};
use super::traffic::{Minute, Range, Traffic};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// The smallest 1, 2 or 5 × 10ⁿ at or above `x` (at least 1).
fn nice(x: f64) -> f64 {
    if x <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= x)
        .unwrap_or(10.0 * magnitude)
}

struct Scale {
    points: usize,
    y_max: f64,
}

impl Scale {
    fn x(&self, i: usize) -> f64 {
        let span = (self.points.max(2) - 1) as f64;
        LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / span
    }

    fn y(&self, value: u64) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - plot * (value as f64 / self.y_max).min(1.0)
    }
}

/// `M x y L x y …` through every minute's value.
fn line(scale: &Scale, minutes: &[Minute], pick: fn(&Minute) -> u64) -> String {
    let mut d = String::with_capacity(minutes.len() * 16);
    for (i, minute) in minutes.iter().enumerate() {
        let verb = if i == 0 { 'M' } else { 'L' };
        // Writing to a String cannot fail.
        let _ = write!(d, "{verb}{:.1} {:.1}", scale.x(i), scale.y(pick(minute)));
    }
    d
}

/// Whether a minute gets a time label on the x axis.
fn labelled(range: Range, start: i64) -> bool {
    match range {
        Range::Hour => start % (15 * 60) == 0,
        Range::Day => start % (4 * 3600) == 0,
    }
}

/// The chart, its legend and its data table; an empty state when the range
/// has no requests.
pub(crate) fn traffic_chart(traffic: &Traffic) -> Markup {
    let range = traffic.range;
    if traffic.is_empty() {
        return html! {
            p.empty id="chart-empty" {
                "No requests in the " (range.label().to_lowercase()) ". "
                "Charts fill in a minute or so after traffic arrives."
            }
        };
    }
    let minutes = &traffic.minutes;
    let peak_minute = minutes.iter().max_by_key(|m| (m.requests, -m.start));
    let peak = minutes
        .iter()
        .map(|m| m.requests.max(m.blocked).max(m.challenged))
        .max()
        .unwrap_or(0);
    let step = nice(peak as f64 / 4.0);
    let scale = Scale {
        points: minutes.len(),
        y_max: step * 4.0,
    };
    let requests = line(&scale, minutes, |m| m.requests);
    let area = format!(
        "{requests}L{:.1} {:.1}L{:.1} {:.1}Z",
        scale.x(minutes.len().saturating_sub(1)),
        HEIGHT - BOTTOM,
        scale.x(0),
        HEIGHT - BOTTOM
    );
    let blocked = line(&scale, minutes, |m| m.blocked);
    let challenged = line(&scale, minutes, |m| m.challenged);
    let title = format!(
        "Requests, blocked and challenged per minute, {}",
        range.label().to_lowercase()
    );
    let desc = format!(
        "{} requests, {} blocked, {} challenged.{}",
        count(traffic.total(|m| m.requests)),
        count(traffic.total(|m| m.blocked)),
        count(traffic.total(|m| m.challenged)),
        peak_minute.map_or(String::new(), |m| format!(
            " Busiest minute: {} requests at {} UTC.",
            count(m.requests),
            clock(m.start)
        )),
    );
    html! {
        figure.chart-figure {
            svg.chart #traffic-chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-labelledby="chart-title chart-desc" data-points=(minutes.len()) {
                title #chart-title { (title) }
                desc #chart-desc { (desc) }
                g aria-hidden="true" {
                    @for tick in 0..=4u32 {
                        @let value = (step * f64::from(tick)) as u64;
                        @let y = scale.y(value);
                        line.grid-line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(fmt1(y)) y2=(fmt1(y)) {}
                        text x=(LEFT - 8.0) y=(fmt1(y + 4.0)) text-anchor="end" { (count(value)) }
                    }
                    line.axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(HEIGHT - BOTTOM) y2=(HEIGHT - BOTTOM) {}
                    @for (i, minute) in minutes.iter().enumerate() {
                        @if labelled(range, minute.start) {
                            line.axis x1=(fmt1(scale.x(i))) x2=(fmt1(scale.x(i))) y1=(HEIGHT - BOTTOM) y2=(HEIGHT - BOTTOM + 5.0) {}
                            text x=(fmt1(scale.x(i))) y=(HEIGHT - 10.0) text-anchor="middle" { (clock(minute.start)) }
                        }
                    }
                    path.a-requests d=(area) {}
                    path.s-requests d=(requests) {}
                    path.s-blocked d=(blocked) {}
                    path.s-challenged d=(challenged) {}
                }
            }
            figcaption {
                ul.legend aria-hidden="true" {
                    li { (swatch("s-requests")) "Requests" }
                    li { (swatch("s-blocked")) "Blocked" }
                    li { (swatch("s-challenged")) "Challenged" }
                }
                p.hint { "Times are UTC. " (desc) }
            }
        }
        (data_table(traffic))
    }
}

fn fmt1(v: f64) -> String {
    format!("{v:.1}")
}

fn swatch(class: &str) -> Markup {
    html! {
        svg width="28" height="10" viewBox="0 0 28 10" focusable="false" {
            line class=(class) x1="0" x2="28" y1="5" y2="5" {}
        }
    }
}

/// The chart's numbers for screen readers: per minute for the last hour,
/// per hour for the last day (1,440 rows would be no help).
fn data_table(traffic: &Traffic) -> Markup {
    let rows: Vec<Minute> = match traffic.range {
        Range::Hour => traffic.minutes.clone(),
        Range::Day => traffic
            .minutes
            .chunks(60)
            .filter_map(|hour| {
                let first = hour.first()?;
                Some(Minute {
                    start: first.start,
                    requests: hour.iter().map(|m| m.requests).sum(),
                    blocked: hour.iter().map(|m| m.blocked).sum(),
                    challenged: hour.iter().map(|m| m.challenged).sum(),
                    passed: hour.iter().map(|m| m.passed).sum(),
                    rate_limited: hour.iter().map(|m| m.rate_limited).sum(),
                })
            })
            .collect(),
    };
    let unit = match traffic.range {
        Range::Hour => "minute",
        Range::Day => "hour",
    };
    // A wrapper takes the hiding: a table grows to fit its rows whatever
    // height it is given, and would stretch the page.
    html! {
        div.visually-hidden { table {
            caption { "Traffic per " (unit) ", " (traffic.range.label().to_lowercase()) ", times in UTC" }
            thead { tr {
                th scope="col" { (unit) " starting" }
                th scope="col" { "Requests" }
                th scope="col" { "Blocked" }
                th scope="col" { "Challenged" }
            } }
            tbody {
                @for row in &rows {
                    tr {
                        th scope="row" { (clock(row.start)) }
                        td { (row.requests) }
                        td { (row.blocked) }
                        td { (row.challenged) }
                    }
                }
            }
        }
    } }
}

/// A top-N list as a small table, or its empty state.
pub(crate) fn top_table(caption: &str, key: &str, entries: &[(String, u64)]) -> Markup {
    html! {
        div.panel {
            h3 { (caption) }
            @if entries.is_empty() {
                p.empty { "Nothing yet in this range." }
            } @else {
                div.table-wrap {
                    table {
                        thead { tr { th scope="col" { (key) } th.num scope="col" { "Requests" } } }
                        tbody {
                            @for (name, n) in entries {
                                tr { td.key { (name) } td.num { (count(*n)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rampart_store::TrafficTop;

    fn traffic(values: &[(u64, u64, u64)]) -> Traffic {
        Traffic {
            range: Range::Hour,
            minutes: values
                .iter()
                .enumerate()
                .map(|(i, &(requests, blocked, challenged))| Minute {
                    start: 1_740_837_600 + i as i64 * 60,
                    requests,
                    blocked,
                    challenged,
                    ..Minute::default()
                })
                .collect(),
            top: TrafficTop::default(),
        }
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice(0.0), 1.0);
        assert_eq!(nice(1.2), 2.0);
        assert_eq!(nice(3.0), 5.0);
        assert_eq!(nice(7.0), 10.0);
        assert_eq!(nice(120.0), 200.0);
    }

    #[test]
    fn empty_range_says_so() {
        let html = traffic_chart(&traffic(&[(0, 0, 0); 60])).into_string();
        assert!(html.contains("chart-empty"));
        assert!(!html.contains("<svg"));
    }

    #[test]
    fn chart_has_paths_title_and_table() {
        let mut values = vec![(0, 0, 0); 60];
        values[10] = (40, 3, 1);
        values[11] = (80, 0, 2);
        let html = traffic_chart(&traffic(&values)).into_string();
        assert!(html.contains("<title id=\"chart-title\">"));
        assert!(html.contains("120 requests, 3 blocked, 3 challenged."));
        assert!(html.contains("Busiest minute: 80 requests at 14:11 UTC."));
        assert_eq!(html.matches("<path").count(), 4);
        assert_eq!(html.matches("<tr>").count(), 61);
        // Peak 80 → steps of 20 up to 80.
        assert!(html.contains(">80</text>"));
    }
}
