//! The SVG chart of one or more runs: instances, tasks, pending tasks, ContainerCapacity and
//! IdleHostCapacity over time, one colour per run.

use plotters::prelude::*;

use crate::sim::{Outcome, Sample};

const COLOURS: [RGBColor; 3] = [
    RGBColor(214, 39, 40),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
];
const WIDTH: u32 = 1100;
const PANEL_HEIGHT: u32 = 210;
const TITLE_HEIGHT: u32 = 56;

/// One panel: its caption and the value of a sample it plots.
struct Panel {
    caption: &'static str,
    value: fn(&Sample) -> f64,
    /// A horizontal reference line (IdleHostCapacity's scale-in threshold).
    reference: Option<f64>,
}

const PANELS: [Panel; 5] = [
    Panel {
        caption: "Instances in the Auto Scaling group (launching and draining included)",
        value: |s| f64::from(s.instances),
        reference: None,
    },
    Panel {
        caption: "Tasks RUNNING (grey: the services' desired count)",
        value: |s| f64::from(s.running_tasks),
        reference: None,
    },
    Panel {
        caption: "Tasks pending: wanted, but no instance has room",
        value: |s| f64::from(s.pending_tasks),
        reference: None,
    },
    Panel {
        caption: "ContainerCapacity: worst-case tasks that still fit",
        value: |s| s.container_capacity as f64,
        reference: None,
    },
    Panel {
        caption: "IdleHostCapacity: spare capacity in whole hosts (scale in only above 1)",
        value: |s| s.idle_host_capacity,
        reference: Some(1.0),
    },
];

/// One point per minute at most, so that a day stays a small file.
fn thin(samples: &[Sample], step: u64) -> impl Iterator<Item = &Sample> {
    let every = (60 / step.max(1)).max(1) as usize;
    samples
        .iter()
        .enumerate()
        .filter(move |(i, _)| i % every == 0 || *i + 1 == samples.len())
        .map(|(_, s)| s)
}

/// A staircase through the points: values hold until the next point, as the state does.
fn staircase(points: impl Iterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (x, y) in points {
        if let Some(&(_, previous)) = out.last()
            && previous != y
        {
            out.push((x, previous));
        }
        out.push((x, y));
    }
    out
}

fn hours(s: &Sample) -> f64 {
    s.t as f64 / 3600.0
}

/// Renders the runs (at most three) as an SVG document.
pub fn render(title: &str, runs: &[Outcome]) -> Result<String, String> {
    let mut svg = String::new();
    draw(&mut svg, title, runs).map_err(|e| format!("cannot draw the chart: {e}"))?;
    Ok(svg)
}

fn draw(svg: &mut String, title: &str, runs: &[Outcome]) -> Result<(), Box<dyn std::error::Error>> {
    let height = TITLE_HEIGHT + PANEL_HEIGHT * PANELS.len() as u32;
    let root = SVGBackend::with_string(svg, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title_area, rest) = root.split_vertically(TITLE_HEIGHT);
    title_area.draw_text(
        title,
        &("sans-serif", 22).into_font().color(&BLACK),
        (20, 12),
    )?;
    let mut x = 20;
    for (i, run) in runs.iter().enumerate() {
        let colour = COLOURS.get(i).copied().unwrap_or(BLACK);
        title_area.draw(&Rectangle::new([(x, 42), (x + 24, 46)], colour.filled()))?;
        title_area.draw_text(
            run.policy,
            &("sans-serif", 15).into_font().color(&BLACK),
            (x + 30, 36),
        )?;
        x += 40 + 9 * run.policy.chars().count() as i32 + 30;
    }
    let end = runs
        .iter()
        .flat_map(|r| r.samples.last())
        .map(hours)
        .fold(0.0_f64, f64::max)
        .max(1.0 / 60.0);
    let panels = rest.split_evenly((PANELS.len(), 1));
    for (panel, area) in PANELS.iter().zip(panels.iter()) {
        let mut top = runs
            .iter()
            .flat_map(|r| r.samples.iter())
            .map(panel.value)
            .fold(0.0_f64, f64::max);
        if panel.caption.starts_with("Tasks RUNNING") {
            top = runs
                .iter()
                .flat_map(|r| r.samples.iter())
                .map(|s| f64::from(s.desired_tasks.max(s.running_tasks)))
                .fold(top, f64::max);
        }
        if let Some(r) = panel.reference {
            top = top.max(r * 2.0);
        }
        let top = (top * 1.1).max(1.0);
        let mut chart = ChartBuilder::on(area)
            .margin_left(12)
            .margin_right(24)
            .margin_top(6)
            .caption(panel.caption, ("sans-serif", 15))
            .x_label_area_size(24)
            .y_label_area_size(44)
            .build_cartesian_2d(0.0..end, 0.0..top)?;
        chart
            .configure_mesh()
            .x_labels(if end > 6.0 { 13 } else { 7 })
            .y_labels(5)
            .x_label_formatter(&|h| {
                let minutes = (h * 60.0).round() as i64;
                format!("{:02}:{:02}", minutes / 60, minutes % 60)
            })
            .y_label_formatter(&|v| {
                if panel.reference.is_some() {
                    format!("{v:.1}")
                } else if (v - v.round()).abs() < 1e-6 {
                    format!("{v:.0}")
                } else {
                    // Counts are whole: no label between two integers.
                    String::new()
                }
            })
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style(("sans-serif", 12))
            .draw()?;
        if let Some(r) = panel.reference {
            chart.draw_series(LineSeries::new(
                [(0.0, r), (end, r)],
                RGBColor(120, 120, 120).stroke_width(1),
            ))?;
        }
        if panel.caption.starts_with("Tasks RUNNING")
            && let Some(first) = runs.first()
        {
            chart.draw_series(LineSeries::new(
                staircase(
                    thin(&first.samples, first.step)
                        .map(|s| (hours(s), f64::from(s.desired_tasks))),
                ),
                RGBColor(160, 160, 160).stroke_width(3),
            ))?;
        }
        for (i, run) in runs.iter().enumerate() {
            let colour = COLOURS.get(i).copied().unwrap_or(BLACK);
            chart.draw_series(LineSeries::new(
                staircase(thin(&run.samples, run.step).map(|s| (hours(s), (panel.value)(s)))),
                colour.stroke_width(if i == 0 { 5 } else { 2 }),
            ))?;
        }
    }
    root.present()?;
    Ok(())
}

/// The frontier of a `--sweep` as an SVG document: vCPU-hours across, task-minutes pending
/// up, one line per policy through its settings (each point labelled), the book as one point
/// and the ideal as a vertical line — the floor no policy can beat.
pub fn render_frontier(title: &str, f: &crate::sim::sweep::Frontier) -> Result<String, String> {
    let mut svg = String::new();
    draw_frontier(&mut svg, title, f).map_err(|e| format!("cannot draw the chart: {e}"))?;
    Ok(svg)
}

fn draw_frontier(
    svg: &mut String,
    title: &str,
    f: &crate::sim::sweep::Frontier,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (WIDTH, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let points = |policy: &str| -> Vec<(f64, f64, &str)> {
        f.runs
            .iter()
            .filter(|r| r.summary.policy == policy)
            .map(|r| {
                (
                    r.summary.vcpu_hours,
                    r.summary.task_minutes_pending,
                    r.setting.as_str(),
                )
            })
            .collect()
    };
    let all: Vec<(f64, f64)> = f
        .runs
        .iter()
        .map(|r| (r.summary.vcpu_hours, r.summary.task_minutes_pending))
        .chain([(f.ideal_vcpu_hours, 0.0)])
        .collect();
    let (x_min, x_max) = all.iter().fold((f64::INFINITY, 0.0_f64), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    // The frontiers decide the scale; a far costlier wait (the book's +1) is drawn on the top
    // edge with its value, so that it does not flatten the lines that matter.
    let y_frontiers = f
        .runs
        .iter()
        .filter(|r| r.summary.policy != "book ±1")
        .map(|r| r.summary.task_minutes_pending)
        .fold(1.0_f64, f64::max);
    let y_max = all
        .iter()
        .map(|p| p.1)
        .fold(1.0_f64, f64::max)
        .min(y_frontiers * 2.0);
    let pad = ((x_max - x_min) * 0.08).max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .margin(24)
        .caption(title, ("sans-serif", 20))
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d((x_min - pad).max(0.0)..x_max + pad, 0.0..y_max * 1.15)?;
    chart
        .configure_mesh()
        .x_desc("vCPU-hours (what the bill follows)")
        .y_desc("task-minutes pending")
        .light_line_style(RGBColor(238, 238, 238))
        .bold_line_style(RGBColor(215, 215, 215))
        .label_style(("sans-serif", 13))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [
                (f.ideal_vcpu_hours, 0.0),
                (f.ideal_vcpu_hours, y_max * 1.15),
            ],
            RGBColor(120, 120, 120).stroke_width(2),
        ))?
        .label(format!("ideal ({:.1} vCPU-hours)", f.ideal_vcpu_hours))
        .legend(|(x, y)| {
            PathElement::new(
                [(x, y), (x + 20, y)],
                RGBColor(120, 120, 120).stroke_width(2),
            )
        });
    for (i, policy) in ["book ±1", "capacity-provider", "hosts-to-add"]
        .into_iter()
        .enumerate()
    {
        let colour = COLOURS.get(i).copied().unwrap_or(BLACK);
        let mut line: Vec<(f64, f64, String)> = points(policy)
            .into_iter()
            .map(|(x, y, setting)| {
                if y > y_max {
                    (x, y_max, format!("{setting}: {y:.0} (off the chart)"))
                } else {
                    (x, y, setting.to_owned())
                }
            })
            .collect();
        line.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(
                line.iter().map(|p| (p.0, p.1)),
                colour.stroke_width(3),
            ))?
            .label(policy)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(3)));
        chart.draw_series(
            line.iter()
                .map(|p| Circle::new((p.0, p.1), 5, colour.filled())),
        )?;
        chart.draw_series(line.iter().map(|p| {
            Text::new(
                p.2.clone(),
                (p.0, p.1),
                ("sans-serif", 12).into_font().color(&colour),
            )
        }))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 14))
        .draw()?;
    root.present()?;
    Ok(())
}
