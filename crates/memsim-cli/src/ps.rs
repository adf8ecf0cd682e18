//! `memsim ps`, `memsim pstree` and `memsim pmap`: run a scenario (or nothing: the initial machine), then
//! print the task list, the task tree or one process's map as procps and psmisc print them. The renderers
//! are in `memsim_core::procfs::{ps, pstree, pmap}`; this module only builds the machine and prints.

use std::io::{self, Write};
use std::process::ExitCode;

use memsim_core::procfs::PmapFormat;
use memsim_core::{Kernel, Pid};
use memsim_scenario::{HostFs, RunError, Runner};

use crate::machine::MachineArgs;

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// A scenario to run first (`-` for standard input); without one, the initial machine is shown.
    pub scenario: Option<String>,
    #[command(flatten)]
    pub machine: MachineArgs,
}

#[derive(clap::Args, Debug)]
pub struct PmapArgs {
    /// `-x`: extended format with RSS and Dirty columns.
    #[arg(short = 'x', long = "extended")]
    pub extended: bool,
    /// `-d`: device format with offsets and devices.
    #[arg(short = 'd', long = "device")]
    pub device: bool,
    /// `-X` (once) or `-XX` (twice): every smaps column.
    #[arg(short = 'X', action = clap::ArgAction::Count)]
    pub more: u8,
    /// The process (a pid of the scenario, as `cat /proc/PID/...` names it).
    pub pid: u32,
    /// A scenario to run first (`-` for standard input); without one, the initial machine is shown.
    pub scenario: Option<String>,
    #[command(flatten)]
    pub machine: MachineArgs,
}

/// Build the machine and run the scenario, reporting its failures on standard error. Returns the runner
/// and whether every expectation held, or the exit code for a usage or scenario error.
fn prepare(machine: &MachineArgs, scenario: Option<&str>) -> Result<(Runner, bool), ExitCode> {
    let m = machine.to_machine().map_err(|e| crate::usage_error(&e))?;
    let kernel = m.build(Box::new(HostFs::new()));
    let mut runner = Runner::new(kernel);
    let Some(file) = scenario else {
        return Ok((runner, true));
    };
    let (name, text) = crate::read_input(file).map_err(|e| crate::usage_error(&format!("{file}: {e}")))?;
    // The scenario's own output (`cat` lines) is not what these commands print.
    let summary = match runner.run(&name, &text, &mut io::sink(), true) {
        Ok(s) => s,
        Err(RunError::Malformed(e)) => {
            eprintln!("{e}");
            return Err(ExitCode::from(2));
        }
        Err(RunError::Io(e)) => {
            eprintln!("memsim: {e}");
            return Err(ExitCode::from(2));
        }
    };
    for f in &summary.failures {
        eprintln!("{f}");
    }
    Ok((runner, summary.failures.is_empty()))
}

fn emit(bytes: &[u8], ok: bool) -> ExitCode {
    let mut out = io::stdout().lock();
    if out.write_all(bytes).and_then(|()| out.flush()).is_err() {
        return ExitCode::from(2);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn show(a: &PsArgs, render: fn(&Kernel) -> String) -> ExitCode {
    match prepare(&a.machine, a.scenario.as_deref()) {
        Ok((runner, ok)) => emit(render(&runner.kernel).as_bytes(), ok),
        Err(code) => code,
    }
}

/// `memsim ps`: like `ps -eo pid,ppid,stat,vsz,rss,comm`.
pub fn ps(a: &PsArgs) -> ExitCode {
    show(a, memsim_core::procfs::ps::render)
}

/// `memsim pstree`: like `pstree -p` (ASCII, 132 columns).
pub fn pstree(a: &PsArgs) -> ExitCode {
    show(a, memsim_core::procfs::pstree::render)
}

/// `memsim pmap [-x|-d|-X|-XX] PID`.
pub fn pmap(a: &PmapArgs) -> ExitCode {
    let format = match (a.extended, a.device, a.more) {
        (false, false, 0) => PmapFormat::Default,
        (true, false, 0) => PmapFormat::Extended,
        (false, true, 0) => PmapFormat::Device,
        (false, false, 1) => PmapFormat::More,
        (false, false, 2) => PmapFormat::All,
        _ => return crate::usage_error("pmap: choose one of -x, -d, -X, -XX"),
    };
    let (mut runner, ok) = match prepare(&a.machine, a.scenario.as_deref()) {
        Ok(r) => r,
        Err(code) => return code,
    };
    // A pid of the model as it is; another one is a pid of the scenario's log, mapped as `cat` lines map it.
    let pid: Pid = if runner.kernel.tasks.contains_key(&Pid(a.pid)) || a.scenario.is_none() {
        Pid(a.pid)
    } else {
        runner.model_pid(Some(a.pid))
    };
    match runner.kernel.pmap(pid, format) {
        Ok(bytes) => emit(&bytes, ok),
        Err(e) => {
            // procps pmap prints nothing for a pid it cannot read and exits 42.
            eprintln!("memsim: pmap {}: {e}", a.pid);
            ExitCode::from(1)
        }
    }
}
