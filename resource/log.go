package resource

import (
	"log/slog"
	"net/http"
)

// logLevel is Info for refusals a well-behaved agent meets in passing
// (challenges, expired tokens), Warn for ones that suggest an attack or a
// broken peer, Error for the resource's own failures.
func logLevel(e *Error) slog.Level {
	switch {
	case e.Status >= http.StatusInternalServerError:
		return slog.LevelError
	case e.Code == codeExpiredJWT || e.Code == codeClockSkew || e.Code == codeInvalidInput || e.requirement != "":
		return slog.LevelInfo
	}
	return slog.LevelWarn
}
