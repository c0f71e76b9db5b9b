package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// openOutput opens a -w file: created 0600 if absent, never through a
// symlink; an existing file must belong to the caller (or to owner, the
// -Z user, when not -1), and a regular one is truncated and set to 0600.
// Only a FIFO without a reader makes open wait, so only then is it done
// where a signal can end it: a regular file opens whatever the signals,
// and the command then writes a whole (maybe empty) capture file.
func openOutput(ctx context.Context, name string, owner int) (*os.File, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_CLOEXEC
	f, err := openFile(name, flags|unix.O_NONBLOCK)
	if errors.Is(err, unix.ENXIO) { // a FIFO nobody reads yet
		f, err = openWaiting(ctx, func() (*os.File, error) { return openFile(name, flags) })
		if err != nil && err == ctx.Err() {
			return nil, fmt.Errorf("open %s: interrupted while waiting for a reader of the FIFO", name)
		}
	}
	if errors.Is(err, unix.ELOOP) {
		// O_NOFOLLOW's refusal reads "too many levels of symbolic links".
		return nil, fmt.Errorf("create %s: it is a symbolic link, and nsdump never writes through one: name the file it points to, or remove the link", name)
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	if err := claim(f, owner); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", name, err)
	}
	return f, nil
}

// openFile opens name with flags; writes block whatever the flags (a FIFO
// opened O_NONBLOCK would otherwise fail writes with EAGAIN).
func openFile(name string, flags int) (*os.File, error) {
	fd, err := unix.Open(name, flags, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// claim refuses a file of another user, and empties a regular file and
// makes it 0600, as a new one would be.
func claim(f *os.File, owner int) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if uid := int(st.Uid); uid != os.Geteuid() && uid != owner {
		who := strconv.Itoa(uid)
		if u, err := user.LookupId(who); err == nil {
			who = u.Username
		}
		return fmt.Errorf("the file belongs to user %s: refusing to overwrite it (remove it or choose another name)", who)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil // a FIFO, /dev/null: nothing to truncate
	}
	if err := unix.Ftruncate(int(f.Fd()), 0); err != nil {
		return err
	}
	return unix.Fchmod(int(f.Fd()), 0o600)
}
