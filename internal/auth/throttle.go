package auth

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/aybhq/ayb/internal/apierror"
)

// throttle counts one attempt of kind (login, register, reset, verify,
// magic_link) for the client's IP and, when given, for the account's
// email, in ayb.auth_throttle so the count holds across instances. Over the
// limit it answers 429 with Retry-After; the window always ends, so nobody
// is locked out for good. Each hit is its own statement, committed whatever
// the request then does.
func (s *Service) throttle(ctx context.Context, kind string, m RequestMeta, email string) error {
	window := s.cfg.ThrottleWindow.Duration
	if window <= 0 {
		return nil
	}
	check := func(key string, limit int) error {
		if limit <= 0 {
			return nil
		}
		var (
			hits  int
			start time.Time
		)
		now := s.now()
		if err := s.db.Pool.QueryRow(ctx, qThrottleHit, key, now, window.Seconds()).Scan(&hits, &start); err != nil {
			return apierror.Internal(err)
		}
		if hits <= limit {
			return nil
		}
		retry := int(math.Ceil(start.Add(window).Sub(now).Seconds()))
		if retry < 1 {
			retry = 1
		}
		e := apierror.New(apierror.CodeRateLimited, "too many attempts; try again later").
			WithDetails(map[string]any{"retry_after_seconds": retry})
		e.Header = http.Header{"Retry-After": []string{strconv.Itoa(retry)}}
		return e
	}
	if err := check(kind+":ip:"+m.IP, s.cfg.ThrottleIP); err != nil {
		return err
	}
	if email != "" {
		return check(kind+":account:"+email, s.cfg.ThrottleAccount)
	}
	return nil
}
