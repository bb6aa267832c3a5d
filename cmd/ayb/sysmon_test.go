package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSysmonEnv(t *testing.T) {
	t.Parallel()
	env, change := sysmonEnv([]string{"PATH=/bin", "HOME=/root"})
	require.True(t, change)
	require.Equal(t, []string{"PATH=/bin", "HOME=/root", "GODEBUG=" + sysmonAwake}, env)

	env, change = sysmonEnv([]string{"GODEBUG=http2client=0", "PATH=/bin"})
	require.True(t, change)
	require.Equal(t, []string{"PATH=/bin", "GODEBUG=http2client=0," + sysmonAwake}, env)

	for _, set := range []string{"GODEBUG=schedtrace=0", "GODEBUG=gctrace=1, schedtrace=1000", "GODEBUG=" + sysmonAwake} {
		in := []string{"PATH=/bin", set}
		env, change = sysmonEnv(in)
		require.False(t, change, set)
		require.Equal(t, in, env)
	}
}
