package apierror

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStatusFor(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"23505": 409, "23503": 409, "23502": 400, "23514": 400, "22P02": 400, "22007": 400,
		"42501": 403, "P0001": 400, "PT404": 404, "PT418": 418, "PT999": 500, "PTabc": 500,
		"22999": 400, "08006": 503, "XX000": 500,
		CodeRateLimited: 429, CodeNotFound: 404, "unknown_code": 500,
	}
	for code, want := range cases {
		require.Equal(t, want, StatusFor(code), code)
	}
}

func TestAsHidesUnknownCauses(t *testing.T) {
	t.Parallel()
	e := As(errors.New("connection string with password=hunter2"))
	require.Equal(t, 500, e.Status)
	require.Equal(t, CodeInternal, e.Code)
	require.NotContains(t, e.Message, "hunter2")
	wrapped := As(errors.Join(errors.New("ctx"), NotFound("no such row")))
	require.Equal(t, 404, wrapped.Status)
}
