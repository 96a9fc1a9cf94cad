//! The `tracing` feature: the span of each task (name, ids, parent, where it was started),
//! entered around its steps and closed when it exits, and the events for cancellations,
//! deadlines and what nurseries collect, seen by a subscriber that records everything.

#![cfg(feature = "tracing")]

use scoro::testing::MockClock;
use scoro::{
    Builder, CancelRequested, CoroutineCall, ErrorGroup, MaybeCancelled, move_on_after, nursery,
    sleep, sleep_forever, structured,
};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

// ----- a subscriber that records everything -------------------------------------------------

type Fields = BTreeMap<String, String>;

struct SpanRec {
    meta: &'static Metadata<'static>,
    fields: Fields,
    parent: Option<u64>,
    refs: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Rec {
    New(u64),
    Enter(u64),
    Exit(u64),
    Close(u64),
    Event {
        target: String,
        fields: Fields,
        /// The entered spans, outermost first.
        stack: Vec<u64>,
    },
}

#[derive(Default)]
struct State {
    /// Asks the runtime for its task tree at each of scoro's events, as a layer that adds the
    /// tree to its records would.
    ask_runtime: bool,
    /// The number of tasks in each tree asked for.
    trees: Vec<usize>,
    next: u64,
    spans: HashMap<u64, SpanRec>,
    stack: Vec<u64>,
    log: Vec<Rec>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<State>>);

struct Collect<'a>(&'a mut Fields);

impl Visit for Collect<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut s = self.0.lock().unwrap();
        s.next += 1;
        let id = s.next;
        let parent = match attrs.parent() {
            Some(p) => Some(p.into_u64()),
            None if attrs.is_contextual() => s.stack.last().copied(),
            None => None,
        };
        let mut fields = Fields::new();
        attrs.record(&mut Collect(&mut fields));
        s.spans.insert(
            id,
            SpanRec {
                meta: attrs.metadata(),
                fields,
                parent,
                refs: 1,
            },
        );
        s.log.push(Rec::New(id));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut s = self.0.lock().unwrap();
        let rec = s.spans.get_mut(&span.into_u64()).unwrap();
        values.record(&mut Collect(&mut rec.fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let ask = self.0.lock().unwrap().ask_runtime;
        if ask && event.metadata().target().starts_with("scoro::") {
            let tree = scoro::observe::task_tree();
            self.0.lock().unwrap().trees.push(tree.tasks().len());
        }
        let mut s = self.0.lock().unwrap();
        let mut fields = Fields::new();
        event.record(&mut Collect(&mut fields));
        let stack = s.stack.clone();
        s.log.push(Rec::Event {
            target: event.metadata().target().to_owned(),
            fields,
            stack,
        });
    }

    fn enter(&self, span: &Id) {
        let mut s = self.0.lock().unwrap();
        s.stack.push(span.into_u64());
        s.log.push(Rec::Enter(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        let mut s = self.0.lock().unwrap();
        assert_eq!(
            s.stack.pop(),
            Some(span.into_u64()),
            "spans exited out of order"
        );
        s.log.push(Rec::Exit(span.into_u64()));
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.0
            .lock()
            .unwrap()
            .spans
            .get_mut(&id.into_u64())
            .unwrap()
            .refs += 1;
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        let mut s = self.0.lock().unwrap();
        let rec = s.spans.get_mut(&id.into_u64()).unwrap();
        rec.refs -= 1;
        let closed = rec.refs == 0;
        if closed {
            s.log.push(Rec::Close(id.into_u64()));
        }
        closed
    }
}

/// A task span as recorded.
#[derive(Debug)]
struct TaskSpan {
    span: u64,
    parent_span: Option<u64>,
    fields: Fields,
}

impl TaskSpan {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl Capture {
    /// Runs `call` on a runtime (with `clock`, if any) with this subscriber as the default.
    fn run<F: Future>(&self, clock: Option<MockClock>, call: CoroutineCall<F>) -> F::Output {
        let mut builder = Builder::new();
        if let Some(clock) = clock {
            builder = builder.clock(clock);
        }
        let mut rt = builder.build().unwrap();
        tracing::subscriber::with_default(self.clone(), || rt.run(call))
    }

    fn log(&self) -> Vec<Rec> {
        self.0.lock().unwrap().log.clone()
    }

    /// The `scoro::task` spans, in the order they were created.
    fn task_spans(&self) -> Vec<TaskSpan> {
        let s = self.0.lock().unwrap();
        let mut ids: Vec<u64> = s
            .spans
            .iter()
            .filter(|(_, r)| r.meta.target() == "scoro::task" && r.meta.name() == "task")
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids.into_iter()
            .map(|id| TaskSpan {
                span: id,
                parent_span: s.spans[&id].parent,
                fields: s.spans[&id].fields.clone(),
            })
            .collect()
    }

    /// The task span whose function path ends with `::name`.
    fn task_span(&self, name: &str) -> TaskSpan {
        let suffix = format!("::{name}");
        let mut found: Vec<TaskSpan> = self
            .task_spans()
            .into_iter()
            .filter(|t| t.field("function").unwrap().ends_with(&suffix))
            .collect();
        assert_eq!(found.len(), 1, "one span for {name}: {found:?}");
        found.pop().unwrap()
    }

    /// The events with `target` and `message`: (fields, the task span entered then).
    fn events(&self, target: &str, message: &str) -> Vec<(Fields, Option<u64>)> {
        let task_spans: Vec<u64> = self.task_spans().iter().map(|t| t.span).collect();
        self.log()
            .into_iter()
            .filter_map(|r| match r {
                Rec::Event {
                    target: t,
                    fields,
                    stack,
                } if t == target && fields.get("message").map(String::as_str) == Some(message) => {
                    let task = stack.into_iter().rfind(|id| task_spans.contains(id));
                    Some((fields, task))
                }
                _ => None,
            })
            .collect()
    }
}

// ----- the program under test ---------------------------------------------------------------

#[derive(Debug)]
enum Failure {
    Boom,
    Cancelled,
}

impl From<CancelRequested> for Failure {
    fn from(_: CancelRequested) -> Self {
        Failure::Cancelled
    }
}

impl MaybeCancelled for Failure {
    fn is_cancel_requested(&self) -> bool {
        matches!(self, Failure::Cancelled)
    }
}

#[structured]
async fn worker(ms: u64) -> Result<(), CancelRequested> {
    tracing::info!(ms, "worker step");
    sleep(Duration::from_millis(ms)).await
}

#[structured]
async fn two_children() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(worker(1));
        n.start_soon(other_worker());
        Ok(())
    })
    .await
}

#[structured]
async fn other_worker() -> Result<(), CancelRequested> {
    scoro::checkpoint().await
}

#[structured]
async fn fails() -> Result<(), Failure> {
    scoro::checkpoint().await?;
    Err(Failure::Boom)
}

#[structured]
async fn waits_forever() -> Result<(), CancelRequested> {
    sleep_forever().await?;
    Ok(())
}

#[structured]
async fn one_fails() -> Result<(), ErrorGroup<Failure>> {
    nursery(async |n| -> Result<(), Failure> {
        n.start_soon(waits_forever());
        n.start_soon(fails());
        Ok(())
    })
    .await
}

#[structured]
async fn panics() {
    panic!("child went wrong");
}

#[structured]
async fn one_panics() -> Result<(), ErrorGroup<CancelRequested>> {
    nursery(async |n| -> Result<(), CancelRequested> {
        n.start_soon(panics());
        Ok(())
    })
    .await
}

#[structured]
async fn times_out() -> Option<Result<(), CancelRequested>> {
    move_on_after(Duration::from_secs(1), sleep(Duration::from_secs(10))).await
}

#[structured]
async fn just_sleeps() -> Result<(), CancelRequested> {
    sleep(Duration::from_secs(1)).await
}

// ----- tests --------------------------------------------------------------------------------

#[test]
fn a_nursery_with_two_children_makes_three_task_spans() {
    let capture = Capture::default();
    capture.run(None, two_children()).unwrap();

    let spans = capture.task_spans();
    assert_eq!(spans.len(), 3, "{spans:?}");
    let main = capture.task_span("two_children");
    let a = capture.task_span("worker");
    let b = capture.task_span("other_worker");

    // The main task: no parent, no start location; its span is a root here (nothing was
    // entered around `run`).
    assert_eq!(main.parent_span, None);
    assert_eq!(main.field("parent"), None);
    assert_eq!(main.field("started_at"), None);
    let main_id = main.field("id").unwrap();
    for child in [&a, &b] {
        assert_eq!(child.field("parent"), Some(main_id));
        assert_eq!(child.parent_span, Some(main.span));
        assert_ne!(child.field("id"), Some(main_id));
        let at = child.field("started_at").unwrap();
        assert!(at.starts_with(file!()), "{at}");
    }
    assert_ne!(a.field("id"), b.field("id"));

    // Every span is closed by the end of the run, a child's before its parent's.
    let log = capture.log();
    let closed = |id| log.iter().position(|r| *r == Rec::Close(id));
    let main_closed = closed(main.span).expect("main span closed");
    for child in [&a, &b] {
        assert!(closed(child.span).expect("child span closed") < main_closed);
    }
}

#[test]
fn each_step_of_a_task_runs_inside_its_span() {
    let capture = Capture::default();
    capture.run(None, two_children()).unwrap();
    let worker = capture.task_span("worker");

    // The worker's own event is emitted inside its span.
    let steps = capture.events("tracing", "worker step");
    assert_eq!(steps.len(), 1);
    assert_eq!(steps[0].1, Some(worker.span));

    // Its span is entered once per step (it sleeps once: at least two steps) and exited
    // as often, always in pairs, and closed after the last exit.
    let log = capture.log();
    let mut depth = 0;
    let mut entries = 0;
    for r in &log {
        match r {
            Rec::Enter(id) if *id == worker.span => {
                assert_eq!(depth, 0);
                depth += 1;
                entries += 1;
            }
            Rec::Exit(id) if *id == worker.span => {
                assert_eq!(depth, 1);
                depth -= 1;
            }
            Rec::Close(id) if *id == worker.span => assert_eq!(depth, 0),
            _ => {}
        }
    }
    assert_eq!(depth, 0);
    assert!(entries >= 2, "{entries} steps");
    // Nothing is left entered once the run is over.
    assert!(capture.0.lock().unwrap().stack.is_empty());
}

#[test]
fn a_timeout_delivers_a_deadline_cancellation() {
    let capture = Capture::default();
    let clock = MockClock::autojump(Duration::ZERO);
    assert_eq!(capture.run(Some(clock), times_out()), None);
    let main = capture.task_span("times_out");
    let main_id = main.field("id").unwrap();

    let expired = capture.events("scoro::cancel", "deadline expired");
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0].0["task"], main_id);
    assert_eq!(expired[0].0["scope"], "CancelScope");

    let delivered = capture.events("scoro::cancel", "cancellation delivered");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].0["task"], main_id);
    assert_eq!(delivered[0].0["reason"], "Deadline");
    // Handed over at a checkpoint of the task: inside its span.
    assert_eq!(delivered[0].1, Some(main.span));
}

#[test]
fn a_sleep_ending_is_no_cancellation() {
    let capture = Capture::default();
    let clock = MockClock::autojump(Duration::ZERO);
    capture.run(Some(clock), just_sleeps()).unwrap();
    assert_eq!(capture.events("scoro::cancel", "deadline expired"), []);
    assert_eq!(
        capture.events("scoro::cancel", "cancellation delivered"),
        []
    );
}

#[test]
fn a_nursery_reports_the_error_it_collects() {
    let capture = Capture::default();
    let err = capture.run(None, one_fails()).unwrap_err();
    assert!(matches!(err.into_vec()[..], [Failure::Boom]));
    let main = capture.task_span("one_fails");
    let failing = capture.task_span("fails");
    let waiting = capture.task_span("waits_forever");

    let errors = capture.events("scoro::nursery", "nursery collected an error");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (fields, span) = &errors[0];
    assert_eq!(fields["nursery"], main.field("id").unwrap());
    assert!(fields["error_type"].ends_with("::Failure"), "{fields:?}");
    assert_eq!(fields["first"], "true");
    // Collected when the failing child finished: inside its span.
    assert_eq!(*span, Some(failing.span));

    // The error cancelled the sibling.
    let delivered = capture.events("scoro::cancel", "cancellation delivered");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0].0["task"], waiting.field("id").unwrap());
    assert_eq!(delivered[0].0["reason"], "SiblingFailed");
}

#[test]
fn a_nursery_reports_the_panic_it_collects() {
    let capture = Capture::default();
    let panicked = catch_unwind(AssertUnwindSafe(|| capture.run(None, one_panics())));
    assert!(panicked.is_err());
    let main = capture.task_span("one_panics");
    let child = capture.task_span("panics");

    let panics = capture.events("scoro::nursery", "nursery collected a panic");
    assert_eq!(panics.len(), 1, "{panics:?}");
    let (fields, span) = &panics[0];
    assert_eq!(fields["nursery"], main.field("id").unwrap());
    assert_eq!(fields["panic"], "child went wrong");
    assert_eq!(fields["first"], "true");
    assert_eq!(*span, Some(child.span));
}

#[test]
fn tokio_console_spans_have_the_shape_console_subscriber_reads() {
    let capture = Capture::default();
    capture.run(None, two_children()).unwrap();
    let worker = capture.task_span("worker");
    let s = capture.0.lock().unwrap();
    let (&console, rec) = s
        .spans
        .iter()
        .find(|(_, r)| r.meta.target() == "tokio::task" && r.parent == Some(worker.span))
        .expect("a console span for the worker");
    assert_eq!(rec.meta.name(), "runtime.spawn");
    assert_eq!(rec.fields["kind"], "scoro");
    assert!(rec.fields["task.name"].ends_with("::worker"));
    assert!(rec.fields["task.id"].parse::<u64>().is_ok());
    assert_eq!(rec.fields["loc.file"], file!());
    assert!(rec.fields["loc.line"].parse::<u32>().is_ok());
    assert!(rec.fields["loc.col"].parse::<u32>().is_ok());
    // Entered inside the task span at each step.
    let pairs = s
        .log
        .windows(2)
        .filter(|w| w == &[Rec::Enter(worker.span), Rec::Enter(console)]);
    assert!(pairs.count() >= 2);
    // Waker operations name the console span by its id.
    let ops: Vec<String> = s
        .log
        .iter()
        .filter_map(|r| match r {
            Rec::Event { target, fields, .. }
                if target == "tokio::task::waker" && fields["task.id"] == console.to_string() =>
            {
                Some(fields["op"].clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(ops.first().map(String::as_str), Some("waker.clone"));
    assert_eq!(ops.last().map(String::as_str), Some("waker.drop"));
    assert!(ops.iter().any(|op| op == "waker.wake_by_ref"), "{ops:?}");
}

#[test]
fn a_subscriber_may_ask_the_runtime_about_its_tasks_at_every_event() {
    let capture = Capture::default();
    capture.0.lock().unwrap().ask_runtime = true;
    capture.run(Some(MockClock::autojump(Duration::ZERO)), times_out());
    let err = capture.run(None, one_fails()).unwrap_err();
    assert_eq!(err.len(), 1);
    // The deadline and the cancellation it delivered (one task); the nursery's error (three)
    // and the cancellation of the failing child's sibling (two: the failing child is gone).
    assert_eq!(capture.0.lock().unwrap().trees, [1, 1, 3, 2]);
}
