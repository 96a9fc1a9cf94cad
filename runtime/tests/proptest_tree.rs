//! Property test: random trees of nurseries, cancel scopes (deadlines, shields, explicit
//! cancels at random mock times), sleeps, errors and panics, run on an autojumping mock clock.
//!
//! Checked for every tree:
//! - no task outlives its nursery (start/end events of tasks against open/close of nurseries);
//! - a sleep that returns `Ok` slept exactly its time and no visible cancellation was due
//!   before it ended; a sleep that returns `Err` was cancelled: the cancellation is still there
//!   at the next checkpoint (level-triggered), its reason has a visible cause, and the task was
//!   not left sleeping past a visible deadline or explicit cancel;
//! - no error is lost: without panics, every error a task returned is in the final result
//!   exactly once, and each group lists its direct errors in the order they happened;
//! - panics propagate: the run panics exactly when a task panicked, with one of those panics;
//! - mock time never goes backwards.

use proptest::prelude::*;
use scoro::{
    Builder, CancelReason, CancelRequested, CancelScope, CoroutineCall, MaybeCancelled,
    checkpoint_if_cancelled, nursery, sleep, sleep_forever, structured, testing::MockClock,
};
use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
enum Node {
    /// Sleep this many milliseconds.
    Sleep(u64),
    SleepForever,
    /// Sleep, then fail with a fresh error.
    Fail(u64),
    /// Sleep, then panic (a `Fail` when the case allows no panics).
    Panic(u64),
    /// One after the other; the first error stops the sequence.
    Seq(Vec<Node>),
    /// A nursery: children are started first, then the body runs.
    Nursery {
        body: Box<Node>,
        children: Vec<Node>,
    },
    /// A cancel scope: absolute deadline (ms after the start of the run), shield (only with a
    /// deadline, so everything ends), and actions on its handle at mock times.
    Scope {
        deadline: Option<u64>,
        shield: bool,
        actions: Vec<(u64, Action)>,
        body: Box<Node>,
    },
}

/// What happens to a scope's handle while its body runs, from a task outside the scope.
#[derive(Clone, Copy, Debug)]
enum Action {
    Cancel,
    /// Move (or remove) the deadline; removing is skipped while shielded.
    SetDeadline(Option<u64>),
    /// Shielding is skipped while there is no deadline.
    SetShield(bool),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Cancel),
        prop::option::of(0u64..200).prop_map(Action::SetDeadline),
        any::<bool>().prop_map(Action::SetShield),
    ]
}

/// A nursery with a few children at the root, so that every case runs tasks concurrently.
fn root_tree() -> impl Strategy<Value = Node> {
    (tree(), prop::collection::vec(tree(), 1..5)).prop_map(|(body, children)| Node::Nursery {
        body: Box::new(body),
        children,
    })
}

fn tree() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        8 => (0u64..100).prop_map(Node::Sleep),
        1 => Just(Node::SleepForever),
        2 => (0u64..100).prop_map(Node::Fail),
        1 => (0u64..100).prop_map(Node::Panic),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Node::Seq),
            (inner.clone(), prop::collection::vec(inner.clone(), 0..4)).prop_map(
                |(body, children)| Node::Nursery {
                    body: Box::new(body),
                    children,
                }
            ),
            (
                prop::option::of(0u64..200),
                any::<bool>(),
                prop::collection::vec((0u64..200, action()), 0..3),
                inner,
            )
                .prop_map(|(deadline, shield, mut actions, body)| {
                    actions.sort_by_key(|a| a.0);
                    Node::Scope {
                        deadline,
                        shield: shield && deadline.is_some(),
                        actions,
                        body: Box::new(body),
                    }
                }),
        ]
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Error {
    Cancelled(CancelRequested),
    Real(u32),
    Group(Vec<Error>),
}

impl From<CancelRequested> for Error {
    fn from(c: CancelRequested) -> Self {
        Error::Cancelled(c)
    }
}

impl MaybeCancelled for Error {
    fn is_cancel_requested(&self) -> bool {
        match self {
            Error::Cancelled(_) => true,
            Error::Real(_) => false,
            Error::Group(v) => v.iter().all(MaybeCancelled::is_cancel_requested),
        }
    }
}

/// The panic payload of a `Panic` node.
#[derive(Debug)]
struct PanicId(u32);

/// What encloses the code running now, innermost first (crossing from nursery children into
/// the task that runs the nursery).
enum Link {
    Scope {
        deadline: Cell<Option<Instant>>,
        shield: Cell<bool>,
        /// When the explicit cancel happened.
        fired: Cell<Option<Instant>>,
        /// A deadline that was moved had passed before (the scope stays cancelled).
        expired: Cell<bool>,
        /// When the deadline or shield last changed.
        changed_at: Cell<Option<Instant>>,
    },
    Nursery {
        /// When the nursery was cancelled by a failure, when that time is known exactly.
        failed_at: Cell<Option<Instant>>,
        /// A failure has reached, or is on its way to, this nursery.
        failed: Cell<bool>,
    },
}

struct Chain {
    link: Link,
    parent: Option<Rc<Chain>>,
}

impl Chain {
    /// The links whose cancellation reaches code here: up to and including the first shield.
    fn visible(self: &Rc<Chain>) -> Vec<Rc<Chain>> {
        let mut out = Vec::new();
        let mut cur = Some(self.clone());
        while let Some(c) = cur {
            let stop = matches!(&c.link, Link::Scope { shield, .. } if shield.get());
            out.push(c.clone());
            if stop {
                break;
            }
            cur = c.parent.clone();
        }
        out
    }

    fn nearest_nursery(self: &Rc<Chain>) -> Option<Rc<Chain>> {
        let mut cur = Some(self.clone());
        while let Some(c) = cur {
            if matches!(c.link, Link::Nursery { .. }) {
                return Some(c);
            }
            cur = c.parent.clone();
        }
        None
    }

    /// Records that a failure reached the nearest nursery at `now`.
    fn mark_failure(self: &Rc<Chain>, now: Instant) {
        if let Some(n) = self.nearest_nursery()
            && let Link::Nursery { failed_at, failed } = &n.link
        {
            failed.set(true);
            if failed_at.get().is_none() {
                failed_at.set(Some(now));
            }
        }
    }

    /// A panic cancels the nearest nursery now, and every nursery above later.
    fn mark_panic(self: &Rc<Chain>, now: Instant) {
        self.mark_failure(now);
        let mut cur = Some(self.clone());
        while let Some(c) = cur {
            if let Link::Nursery { failed, .. } = &c.link {
                failed.set(true);
            }
            cur = c.parent.clone();
        }
    }
}

#[derive(Debug)]
enum Event {
    NurseryOpen(u32),
    NurseryClose(u32),
    TaskStart(u32, u32),
    TaskEnd(u32),
}

/// Everything a run records.
struct World {
    base: Instant,
    allow_panics: bool,
    last_time: Cell<Instant>,
    next_id: Cell<u32>,
    produced: RefCell<Vec<u32>>,
    panicked: RefCell<Vec<u32>>,
    events: RefCell<Vec<Event>>,
    violations: RefCell<Vec<String>>,
}

impl World {
    fn new(base: Instant, allow_panics: bool) -> Self {
        World {
            base,
            allow_panics,
            last_time: Cell::new(base),
            next_id: Cell::new(0),
            produced: RefCell::default(),
            panicked: RefCell::default(),
            events: RefCell::default(),
            violations: RefCell::default(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn now(&self) -> Instant {
        let now = scoro::current_time();
        if now < self.last_time.get() {
            self.violate(format!(
                "time went backwards by {:?}",
                self.last_time.get() - now
            ));
        }
        self.last_time.set(now);
        now
    }

    fn fresh_id(&self) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    fn event(&self, e: Event) {
        self.events.borrow_mut().push(e);
    }

    fn violate(&self, what: String) {
        self.violations.borrow_mut().push(what);
    }

    /// Checks the outcome of a sleep that started at `start` and was meant to end after `d`
    /// (`None`: forever).
    fn check_sleep(
        &self,
        chain: &Rc<Chain>,
        start: Instant,
        now: Instant,
        d: Option<Duration>,
        r: &Result<(), CancelRequested>,
    ) {
        let visible = chain.visible();
        // The earliest exactly known moment at which something visible cancels us.
        let mut due: Option<Instant> = None;
        let mut reasons = Vec::new();
        // After the last change of a deadline or shield anywhere above, the configuration is
        // the one seen now; a cause it reveals takes effect at the change at the earliest.
        let mut last_change: Option<Instant> = None;
        let mut cur = Some(chain.clone());
        while let Some(c) = cur {
            if let Link::Scope { changed_at, .. } = &c.link {
                last_change = last_change.max(changed_at.get());
            }
            cur = c.parent.clone();
        }
        for c in &visible {
            match &c.link {
                Link::Scope {
                    deadline,
                    fired,
                    expired,
                    ..
                } => {
                    if let Some(dl) = deadline.get() {
                        due = Some(due.map_or(dl, |x| x.min(dl)));
                        if dl <= now {
                            reasons.push(CancelReason::Deadline);
                        }
                    }
                    if expired.get() {
                        reasons.push(CancelReason::Deadline);
                    }
                    if let Some(f) = fired.get() {
                        due = Some(due.map_or(f, |x| x.min(f)));
                        if f <= now {
                            reasons.push(CancelReason::Explicit);
                        }
                    }
                }
                Link::Nursery { failed_at, failed } => {
                    if let Some(f) = failed_at.get() {
                        due = Some(due.map_or(f, |x| x.min(f)));
                    }
                    if failed.get() {
                        reasons.push(CancelReason::SiblingFailed);
                    }
                }
            }
        }
        match r {
            Ok(()) => {
                let d = d.expect("only a sleep with a duration returns Ok");
                if now - start != d {
                    self.violate(format!("sleep({d:?}) returned Ok after {:?}", now - start));
                }
                if let Some(due) = due
                    && due < start + d
                {
                    self.violate(format!(
                        "sleep({d:?}) returned Ok although a cancellation was due after {:?}",
                        due.saturating_duration_since(start)
                    ));
                }
            }
            Err(c) => {
                if !reasons.contains(&c.reason()) {
                    self.violate(format!(
                        "cancelled with reason {:?} but the visible causes are {reasons:?}",
                        c.reason()
                    ));
                }
                if let Some(d) = d
                    && now - start > d
                {
                    self.violate(format!("sleep({d:?}) cancelled after {:?}", now - start));
                }
                if let Some(due) = due {
                    let bound = due.max(start).max(last_change.unwrap_or(start));
                    if now > bound {
                        self.violate(format!(
                            "cancelled {:?} after the cancellation was due",
                            now - bound
                        ));
                    }
                }
            }
        }
    }
}

/// Sleeps `d` (or forever) and checks the outcome.
#[structured]
async fn checked_sleep(
    d: Option<Duration>,
    chain: &Rc<Chain>,
    w: &World,
) -> Result<(), CancelRequested> {
    let start = w.now();
    let r = match d {
        Some(d) => sleep(d).await,
        None => sleep_forever().await.map(|_| ()),
    };
    let now = w.now();
    w.check_sleep(chain, start, now, d, &r);
    if r.is_err() && checkpoint_if_cancelled().await.is_ok() {
        w.violate("a cancellation was not level-triggered".to_owned());
    }
    r
}

struct OnDrop<'a>(&'a World, Event);

impl Drop for OnDrop<'_> {
    fn drop(&mut self) {
        let e = std::mem::replace(&mut self.1, Event::TaskEnd(u32::MAX));
        self.0.event(e);
    }
}

#[structured]
async fn child_task(
    node: &Node,
    chain: Rc<Chain>,
    w: &World,
    id: u32,
    nursery_id: u32,
) -> Result<(), Error> {
    w.event(Event::TaskStart(id, nursery_id));
    let _end = OnDrop(w, Event::TaskEnd(id));
    let r = exec(node, chain.clone(), w).await;
    if let Err(e) = &r
        && !e.is_cancel_requested()
    {
        chain.mark_failure(w.now());
    }
    r
}

#[structured(boxed)]
async fn exec(node: &Node, chain: Rc<Chain>, w: &World) -> Result<(), Error> {
    match node {
        Node::Sleep(ms) => {
            checked_sleep(Some(Duration::from_millis(*ms)), &chain, w).await?;
            Ok(())
        }
        Node::SleepForever => {
            checked_sleep(None, &chain, w).await?;
            Ok(())
        }
        Node::Fail(ms) | Node::Panic(ms) => {
            checked_sleep(Some(Duration::from_millis(*ms)), &chain, w).await?;
            let id = w.fresh_id();
            if matches!(node, Node::Panic(_)) && w.allow_panics {
                w.panicked.borrow_mut().push(id);
                chain.mark_panic(w.now());
                std::panic::panic_any(PanicId(id));
            }
            w.produced.borrow_mut().push(id);
            Err(Error::Real(id))
        }
        Node::Seq(nodes) => {
            for n in nodes {
                exec(n, chain.clone(), w).await?;
            }
            Ok(())
        }
        Node::Nursery { body, children } => {
            let nursery_id = w.fresh_id();
            w.event(Event::NurseryOpen(nursery_id));
            let _close = OnDrop(w, Event::NurseryClose(nursery_id));
            let link = Rc::new(Chain {
                link: Link::Nursery {
                    failed_at: Cell::new(None),
                    failed: Cell::new(false),
                },
                parent: Some(chain.clone()),
            });
            let r = nursery(async |n| -> Result<(), Error> {
                for c in children {
                    let id = w.fresh_id();
                    n.start_soon(child_task(c, link.clone(), w, id, nursery_id));
                }
                let r = exec(body, link.clone(), w).await;
                if let Err(e) = &r
                    && !e.is_cancel_requested()
                {
                    link.mark_failure(w.now());
                }
                r
            })
            .await;
            r.map_err(|g| Error::Group(g.into_vec()))
        }
        Node::Scope {
            deadline,
            shield,
            actions,
            body,
        } => {
            let deadline = deadline.map(|ms| w.at(ms));
            let mut scope = CancelScope::new().with_shield(*shield);
            if let Some(d) = deadline {
                scope = scope.with_deadline(d);
            }
            let handle = scope.handle();
            let link = Rc::new(Chain {
                link: Link::Scope {
                    deadline: Cell::new(deadline),
                    shield: Cell::new(*shield),
                    fired: Cell::new(None),
                    expired: Cell::new(false),
                    changed_at: Cell::new(None),
                },
                parent: Some(chain.clone()),
            });
            let run = async {
                match scope.run(exec(body, link.clone(), w)).await {
                    None => Ok(()),
                    Some(r) => r,
                }
            };
            if actions.is_empty() {
                return run.await;
            }
            // The actions come from a sibling outside the scope.
            let r = nursery(async |n| -> Result<(), Error> {
                n.start_soon(async {
                    for (at, action) in actions {
                        if scoro::sleep_until(w.at(*at)).await.is_err() {
                            return;
                        }
                        act(&link, &handle, *action, w);
                    }
                });
                let r = run.await;
                n.cancel();
                r
            })
            .await;
            r.map_err(|g| Error::Group(g.into_vec()))
        }
    }
}

/// Applies `action` to the scope of `link` through `handle`, and records it in the link.
fn act(link: &Chain, handle: &scoro::CancelHandle, action: Action, w: &World) {
    let Link::Scope {
        deadline,
        shield,
        fired,
        expired,
        changed_at,
    } = &link.link
    else {
        unreachable!("actions apply to scopes")
    };
    let now = w.now();
    match action {
        Action::Cancel => {
            if fired.get().is_none() {
                fired.set(Some(now));
            }
            handle.cancel();
        }
        Action::SetDeadline(ms) => {
            if ms.is_none() && shield.get() {
                return;
            }
            if deadline.get().is_some_and(|d| d <= now) {
                expired.set(true);
            }
            let new = ms.map(|ms| w.at(ms));
            deadline.set(new);
            changed_at.set(Some(now));
            handle.set_deadline(new);
        }
        Action::SetShield(on) => {
            if on && deadline.get().is_none() {
                return;
            }
            shield.set(on);
            changed_at.set(Some(now));
            handle.set_shield(on);
        }
    }
}

/// The whole tree runs under a root scope with a deadline, so that every sleep ends.
#[structured]
async fn root(node: &Node, w: &World) -> Result<(), Error> {
    let deadline = w.at(10_000);
    let chain = Rc::new(Chain {
        link: Link::Scope {
            deadline: Cell::new(Some(deadline)),
            shield: Cell::new(false),
            fired: Cell::new(None),
            expired: Cell::new(false),
            changed_at: Cell::new(None),
        },
        parent: None,
    });
    match CancelScope::new()
        .with_deadline(deadline)
        .run(exec(node, chain, w))
        .await
    {
        None => Ok(()),
        Some(r) => r,
    }
}

/// Collects the real error ids of `e`, and checks that each group lists its direct errors in
/// the order they happened.
fn real_ids(e: &Error, out: &mut Vec<u32>, order_ok: &mut bool) {
    match e {
        Error::Cancelled(_) => {}
        Error::Real(id) => out.push(*id),
        Error::Group(members) => {
            let direct: Vec<u32> = members
                .iter()
                .filter_map(|m| match m {
                    Error::Real(id) => Some(*id),
                    _ => None,
                })
                .collect();
            if direct.windows(2).any(|p| p[0] > p[1]) {
                *order_ok = false;
            }
            for m in members {
                real_ids(m, out, order_ok);
            }
        }
    }
}

fn check_structure(events: &[Event]) -> Result<(), String> {
    use std::collections::HashMap;
    let mut open = HashMap::new();
    let mut close = HashMap::new();
    let mut start = HashMap::new();
    let mut end = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        match *e {
            Event::NurseryOpen(n) => {
                open.insert(n, i);
            }
            Event::NurseryClose(n) => {
                close.insert(n, i);
            }
            Event::TaskStart(t, n) => {
                start.insert(t, (i, n));
            }
            Event::TaskEnd(t) => {
                end.insert(t, i);
            }
        }
    }
    for (n, o) in &open {
        let Some(c) = close.get(n) else {
            return Err(format!("nursery {n} never closed"));
        };
        if c < o {
            return Err(format!("nursery {n} closed before it opened"));
        }
    }
    for (t, (s, n)) in &start {
        let Some(e) = end.get(t) else {
            return Err(format!("task {t} never ended"));
        };
        let (o, c) = (open[n], close[n]);
        if !(o < *s && s < e && e < &c) {
            return Err(format!(
                "task {t} of nursery {n}: open {o}, start {s}, end {e}, close {c}"
            ));
        }
    }
    Ok(())
}

/// Runs the tree and checks everything it recorded.
fn run_and_check(node: &Node, allow_panics: bool) -> Result<(), String> {
    let clock = MockClock::autojump(Duration::ZERO);
    let w = World::new(clock.now(), allow_panics);
    let mut rt = Builder::new().clock(clock.clone()).build().unwrap();
    let call: CoroutineCall<_> = root(node, &w);
    let outcome = catch_unwind(AssertUnwindSafe(|| rt.run(call)));
    let violations = w.violations.take();
    if !violations.is_empty() {
        return Err(format!("{violations:#?}"));
    }
    check_structure(&w.events.borrow())?;
    let panicked = w.panicked.take();
    match outcome {
        Err(p) => {
            let id = p.downcast_ref::<PanicId>().map(|p| p.0);
            if !id.is_some_and(|id| panicked.contains(&id)) {
                return Err("the run panicked with something else than a task's panic".into());
            }
        }
        Ok(r) => {
            if !panicked.is_empty() {
                return Err(format!("panics {panicked:?} were lost"));
            }
            let mut found = Vec::new();
            let mut order_ok = true;
            if let Err(e) = &r {
                real_ids(e, &mut found, &mut order_ok);
            }
            found.sort_unstable();
            let mut produced = w.produced.take();
            produced.sort_unstable();
            if found != produced {
                return Err(format!(
                    "errors lost or duplicated: produced {produced:?}, result {r:?}"
                ));
            }
            if !order_ok {
                return Err(format!("a group is out of order: {r:?}"));
            }
        }
    }
    Ok(())
}

/// Runs the tree on a thread of its own, so that a run that never ends (a task left blocked
/// after every deadline that should have woken it) fails the case instead of hanging the test.
/// A case normally takes about a millisecond; the limit only matters when something is wrong.
fn run_tree(node: &Node, allow_panics: bool) -> Result<(), TestCaseError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let node = node.clone();
    std::thread::spawn(move || {
        let _ = tx.send(run_and_check(&node, allow_panics));
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(r) => r.map_err(TestCaseError::fail),
        Err(_) => Err(TestCaseError::fail(
            "the run did not finish: a task stayed blocked past its deadlines",
        )),
    }
}

fn quiet_task_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<PanicId>().is_none() {
                default(info);
            }
        }));
    });
}

proptest! {
    // Few shrink steps: when a run hangs, each step waits for the time limit.
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_trees_keep_the_invariants(node in root_tree(), allow_panics in prop::bool::weighted(0.3)) {
        quiet_task_panics();
        run_tree(&node, allow_panics)?;
    }
}

/// A fixed tree that exercises every kind of node at once (a regression seed for the above).
#[test]
fn a_tree_with_every_kind_of_node() {
    let node = Node::Nursery {
        body: Box::new(Node::Scope {
            deadline: Some(50),
            shield: true,
            actions: vec![(20, Action::Cancel)],
            body: Box::new(Node::Seq(vec![Node::Sleep(10), Node::SleepForever])),
        }),
        children: vec![
            Node::Scope {
                deadline: None,
                shield: false,
                actions: vec![(10, Action::SetDeadline(Some(70))), (30, Action::Cancel)],
                body: Box::new(Node::Nursery {
                    body: Box::new(Node::Sleep(5)),
                    children: vec![Node::SleepForever, Node::Fail(40)],
                }),
            },
            Node::Fail(60),
            Node::Sleep(100),
        ],
    };
    run_tree(&node, false).unwrap();
}
