//! The user's terminal: is it one, its size, and raw mode behind a guard that restores the saved
//! settings on drop (normal exit, error, panic unwinding) and on the signal paths of `shell`.

use std::io::IsTerminal;

/// True when stdin, stdout and stderr are all terminals: the case for a real TTY session.
pub fn is_interactive() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
}

/// (rows, columns) of the terminal on stdout, if it has a size.
pub fn size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills a winsize struct we own; the fd is our stdout.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Raw mode on stdin while alive; the previous settings come back on drop.
pub struct RawMode {
    saved: libc::termios,
}

impl RawMode {
    pub fn enable() -> std::io::Result<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on our own stdin with termios structs we own.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &raw) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(RawMode { saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restores the settings read in `enable` on the same fd.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, &self.saved);
        }
    }
}
