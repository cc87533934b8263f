package raft

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lni/dragonboat/v4/logger"

	"github.com/vexfs/semevent/internal/logx"
)

// dragonboat logs through capnslog unless given a factory, and capnslog's
// init takes over the standard log package (flags 0, its own writer).
// This package gives dragonboat a factory that writes to the Logger of an
// open Coordinator, and puts the standard log package back as the Go
// runtime left it (flags LstdFlags, output os.Stderr), since it is
// initialized after capnslog. A program's own log settings, made in main
// or later, are never touched.
func init() {
	logger.SetLoggerFactory(func(pkg string) logger.ILogger {
		l := &dbLogger{pkg: pkg}
		l.level.Store(int32(logger.ERROR))
		return l
	})
	if w := log.Writer(); w != nil && strings.HasSuffix(reflect.Indirect(reflect.ValueOf(w)).Type().PkgPath(), "/capnslog") {
		log.SetOutput(os.Stderr)
		log.SetFlags(log.LstdFlags)
		log.SetPrefix("")
	}
}

// dragonboat's loggers are global to the process; its lines go to the
// Logger of the oldest Coordinator still open, or slog.Default() when
// none is.
var dbRoute struct {
	mu  sync.Mutex // guards ls
	ls  []*slog.Logger
	cur atomic.Pointer[slog.Logger]
}

// routeDragonboat sends dragonboat's lines to l (as well as any earlier
// Coordinator's) until the returned function is called.
func routeDragonboat(l *slog.Logger) (unroute func()) {
	e := logx.For(l, "dragonboat")
	dbRoute.mu.Lock()
	dbRoute.ls = append(dbRoute.ls, e)
	dbRoute.cur.Store(dbRoute.ls[0])
	dbRoute.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			dbRoute.mu.Lock()
			defer dbRoute.mu.Unlock()
			for i, x := range dbRoute.ls {
				if x == e {
					dbRoute.ls = append(dbRoute.ls[:i], dbRoute.ls[i+1:]...)
					break
				}
			}
			if len(dbRoute.ls) == 0 {
				dbRoute.cur.Store(nil)
			} else {
				dbRoute.cur.Store(dbRoute.ls[0])
			}
		})
	}
}

func dragonboatOut() *slog.Logger {
	if l := dbRoute.cur.Load(); l != nil {
		return l
	}
	return slog.Default().With(logx.Component, "dragonboat")
}

// dbLogger is one of dragonboat's package loggers. Its level (SetLogLevel,
// default ERROR) is a first filter; the slog handler's level is the second.
type dbLogger struct {
	pkg   string
	level atomic.Int32
}

func (l *dbLogger) SetLevel(lv logger.LogLevel) { l.level.Store(int32(lv)) }

func (l *dbLogger) Debugf(f string, a ...any) { l.log(logger.DEBUG, slog.LevelDebug, f, a) }
func (l *dbLogger) Infof(f string, a ...any)  { l.log(logger.INFO, slog.LevelInfo, f, a) }
func (l *dbLogger) Warningf(f string, a ...any) {
	l.log(logger.WARNING, l.peerLevel(f, slog.LevelWarn), f, a)
}
func (l *dbLogger) Errorf(f string, a ...any) {
	l.log(logger.ERROR, l.peerLevel(f, slog.LevelError), f, a)
}
func (l *dbLogger) Panicf(f string, a ...any) {
	l.log(logger.CRITICAL, slog.LevelError, f, a)
	panic(fmt.Sprintf(f, a...))
}

func (l *dbLogger) log(lv logger.LogLevel, sl slog.Level, f string, a []any) {
	if int32(lv) > l.level.Load() {
		return
	}
	out := dragonboatOut()
	if !out.Enabled(context.Background(), sl) {
		return
	}
	out.LogAttrs(context.Background(), sl, fmt.Sprintf(f, a...), slog.String("pkg", l.pkg))
}

// peerDown lists dragonboat transport lines that mean a peer's connection
// failed or closed: while a node dies or restarts they are expected, so
// they are logged at debug level, not as warnings or errors. A peer that
// stays unreachable shows in Health (phi) instead.
var peerDown = map[string]bool{
	"Nodehost %s failed to get a connection to %s, %v":        true,
	"breaker %s to %s failed, connect and process failed: %s": true,
	"send batch failed, target %s (%v), %d":                   true,
	"%s became unreachable, affected %d nodes":                true,
	"failed to close the connection %v":                       true,
	"failed to get poison ack %v":                             true,
	"failed to get the header":                                true,
	"failed to connect to %s":                                 true,
	"failed to get a job to %s, %v":                           true,
	"failed to get snapshot conn to %s":                       true,
	"circuit breaker for %s is not ready":                     true,
}

func (l *dbLogger) peerLevel(f string, def slog.Level) slog.Level {
	if l.pkg == "transport" && peerDown[f] {
		return slog.LevelDebug
	}
	return def
}
