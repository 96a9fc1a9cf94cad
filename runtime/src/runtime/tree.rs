//! The task tree of a run, as data and as text: what `scoro::observe::task_tree` returns and
//! what a deadlock report and a tree dump print. Built by the scheduler (`core/observe.rs`)
//! from its task slots and cancel status tree; this file only shapes and renders it.
//!
//! Invariant: building a tree reads the scheduler's state and copies it; nothing here keeps a
//! reference into the scheduler, so a tree may be kept, sent to another thread and printed
//! after the run.

use super::ids::TaskInfo;
use std::fmt;
use std::time::Duration;

/// A snapshot of a run's tasks and scopes, nested as the program nests them: each task with
/// the cancel scopes and nurseries it is in the middle of, each nursery with its children.
///
/// Made by [`task_tree`](crate::observe::task_tree). Its `Display` is an indented tree meant
/// for a person: every task by the path of its `#[structured]` function, where nursery
/// children were started, what each blocked task waits in, and each scope's deadline (as time
/// remaining), shield and cancelled state.
///
/// ```text
/// scoro task tree: 3 tasks (1 running, 0 runnable, 2 blocked)
/// app::main [task 0.0] blocked in scoro::nursery (waiting for its children)
/// └── nursery
///     ├── app::serve [task 1.0, started at src/main.rs:20:11] blocked in scoro::net::TcpListener::accept
///     └── app::tick [task 2.0, started at src/main.rs:21:11] running
///         └── cancel scope: deadline in 1.200 s
/// ```
#[derive(Clone, Debug)]
pub struct TaskTree {
    pub(crate) roots: Vec<TreeNode>,
}

/// One entry of a [`TaskTree`]: a task, or a scope some task is in.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum TreeNode {
    /// A task, with the scopes it has entered.
    Task(TaskEntry),
    /// A cancel scope or a nursery, with what runs inside it.
    Scope(ScopeEntry),
}

/// A task in a [`TaskTree`].
#[derive(Clone, Debug)]
pub struct TaskEntry {
    pub(crate) info: TaskInfo,
    pub(crate) state: TaskState,
    pub(crate) waiting_in: Option<&'static str>,
    /// For a sleep: time until it ends.
    pub(crate) wakes_in: Option<Duration>,
    /// For a worker-thread call: how long the worker has been running it.
    pub(crate) worker_for: Option<Duration>,
    pub(crate) children: Vec<TreeNode>,
}

/// What a task in a [`TaskTree`] is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// Its step is running now (it asked for the tree).
    Running,
    /// Ready to run, waiting for its turn.
    Runnable,
    /// Waiting for something to wake it.
    Blocked,
}

/// What kind of scope a [`ScopeEntry`] is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeKind {
    /// A [`CancelScope`](crate::CancelScope), or a timeout (`move_on_after`, `fail_after`, ..).
    #[default]
    CancelScope,
    /// A nursery: its children run inside it.
    Nursery,
    /// A pending [`Nursery::start`](crate::Nursery::start): the child runs here until it calls
    /// `started`.
    Start,
    /// A sleep's deadline (shown on the sleeping task's line, not as a scope of its own).
    Sleep,
    /// The root scope of the run.
    Root,
}

/// A cancel scope or nursery in a [`TaskTree`].
#[derive(Clone, Debug)]
pub struct ScopeEntry {
    pub(crate) kind: ScopeKind,
    pub(crate) deadline_in: Option<Duration>,
    pub(crate) shield: bool,
    pub(crate) cancel_called: bool,
    pub(crate) cancelled: bool,
    pub(crate) children: Vec<TreeNode>,
}

impl TaskTree {
    /// The top of the tree: the main task of the run.
    pub fn roots(&self) -> &[TreeNode] {
        &self.roots
    }

    /// Every task in the tree, parents before children.
    pub fn tasks(&self) -> Vec<&TaskEntry> {
        let mut out = Vec::new();
        let mut stack: Vec<&TreeNode> = self.roots.iter().rev().collect();
        while let Some(node) = stack.pop() {
            if let TreeNode::Task(t) = node {
                out.push(t);
            }
            stack.extend(node.children().iter().rev());
        }
        out
    }

    /// The first task (parents before children) whose function path ends with `name`.
    pub fn find(&self, name: &str) -> Option<&TaskEntry> {
        self.tasks()
            .into_iter()
            .find(|t| t.info.name().ends_with(name))
    }
}

impl TreeNode {
    /// What is nested inside this entry.
    pub fn children(&self) -> &[TreeNode] {
        match self {
            TreeNode::Task(t) => &t.children,
            TreeNode::Scope(s) => &s.children,
        }
    }
}

impl TaskEntry {
    /// The task's id, name, parent and start location.
    pub fn info(&self) -> &TaskInfo {
        &self.info
    }

    /// Whether it is running, runnable or blocked.
    pub fn state(&self) -> TaskState {
        self.state
    }

    /// The scoro call a blocked task waits in, as a path (`scoro::sync::Lock::lock`), if the
    /// call names itself.
    pub fn waiting_in(&self) -> Option<&'static str> {
        self.waiting_in
    }

    /// For a task in [`sleep`](crate::sleep): how long until the sleep ends.
    pub fn wakes_in(&self) -> Option<Duration> {
        self.wakes_in
    }

    /// For a task in a worker-thread call: how long the worker has been running it.
    pub fn worker_running_for(&self) -> Option<Duration> {
        self.worker_for
    }

    /// The scopes this task has entered (and, inside a nursery scope, its children).
    pub fn children(&self) -> &[TreeNode] {
        &self.children
    }
}

impl ScopeEntry {
    /// What kind of scope this is.
    pub fn kind(&self) -> ScopeKind {
        self.kind
    }

    /// Time until the scope's own deadline (`Some(ZERO)` once it has passed).
    pub fn deadline_in(&self) -> Option<Duration> {
        self.deadline_in
    }

    /// Is the scope shielded from the cancellation of the scopes around it?
    pub fn shield(&self) -> bool {
        self.shield
    }

    /// Has the scope itself been cancelled (by `cancel()` or its deadline)?
    pub fn cancel_called(&self) -> bool {
        self.cancel_called
    }

    /// Is code in the scope cancelled (by this scope or, unless shielded, one around it)?
    pub fn cancelled(&self) -> bool {
        self.cancelled
    }

    /// The tasks and scopes inside this one.
    pub fn children(&self) -> &[TreeNode] {
        &self.children
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

impl fmt::Display for TaskEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [task {}", self.info.name, self.info.id)?;
        if let Some(at) = self.info.location {
            write!(f, ", started at {at}")?;
        }
        f.write_str("]")?;
        match self.state {
            TaskState::Running => f.write_str(" running")?,
            TaskState::Runnable => f.write_str(" runnable")?,
            TaskState::Blocked => match self.waiting_in {
                Some(call) => write!(f, " blocked in {call}")?,
                None => f.write_str(" blocked")?,
            },
        }
        if let Some(d) = self.wakes_in {
            write!(f, ", wakes in {}", seconds(d))?;
        }
        if let Some(d) = self.worker_for {
            write!(f, ", on a worker thread for {}", seconds(d))?;
        }
        Ok(())
    }
}

impl fmt::Display for ScopeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            ScopeKind::Nursery => "nursery",
            ScopeKind::Start => "start (waiting for `started`)",
            ScopeKind::Sleep => "sleep",
            ScopeKind::Root => "run",
            ScopeKind::CancelScope => "cancel scope",
        })?;
        let mut notes = Vec::new();
        if let Some(d) = self.deadline_in {
            notes.push(if d.is_zero() {
                "deadline passed".to_string()
            } else {
                format!("deadline in {}", seconds(d))
            });
        }
        if self.shield {
            notes.push("shielded".to_string());
        }
        if self.cancel_called {
            notes.push("cancel called".to_string());
        } else if self.cancelled {
            notes.push("cancelled from outside".to_string());
        }
        if !notes.is_empty() {
            write!(f, ": {}", notes.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for TreeNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeNode::Task(t) => t.fmt(f),
            TreeNode::Scope(s) => s.fmt(f),
        }
    }
}

impl fmt::Display for TaskTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks = self.tasks();
        let count = |s| tasks.iter().filter(|t| t.state == s).count();
        writeln!(
            f,
            "scoro task tree: {} task{} ({} running, {} runnable, {} blocked)",
            tasks.len(),
            if tasks.len() == 1 { "" } else { "s" },
            count(TaskState::Running),
            count(TaskState::Runnable),
            count(TaskState::Blocked),
        )?;
        // Iterative, so that thousands of nested scopes print without deep recursion.
        let mut stack: Vec<(&TreeNode, String, bool, bool)> = self
            .roots
            .iter()
            .rev()
            .map(|n| (n, String::new(), true, true))
            .collect();
        if let Some(first) = stack.last_mut() {
            first.2 = true;
        }
        while let Some((node, prefix, last, top)) = stack.pop() {
            if top {
                writeln!(f, "{node}")?;
            } else {
                writeln!(f, "{prefix}{}{node}", if last { "└── " } else { "├── " })?;
            }
            let child_prefix = if top {
                String::new()
            } else {
                format!("{prefix}{}", if last { "    " } else { "│   " })
            };
            let children = node.children();
            for (i, child) in children.iter().enumerate().rev() {
                stack.push((child, child_prefix.clone(), i + 1 == children.len(), false));
            }
        }
        Ok(())
    }
}
