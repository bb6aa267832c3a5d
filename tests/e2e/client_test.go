package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Client speaks to one instance the way an SDK would.
type Client struct {
	t     *testing.T
	Base  string
	Token string
}

// Response is a decoded answer.
type Response struct {
	Status int
	Header http.Header
	Raw    []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Raw, &m), string(r.Raw))
	return m
}

// Do sends method path with body (marshalled to JSON when not nil).
func (c *Client) Do(method, path string, body any) Response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(c.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	require.NoError(c.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
}

// With returns a client using token.
func (c *Client) With(token string) *Client { return &Client{t: c.t, Base: c.Base, Token: token} }
