package auth

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aybhq/ayb/internal/apierror"
)

// The pages emailed links land on: plain server-rendered HTML, no script.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em;line-height:1.5}
input{display:block;width:100%;padding:.5em;margin:.3em 0 1em;box-sizing:border-box}
button{padding:.6em 1.2em}.error{color:#b00}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="error">{{.Error}}</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .ResetToken}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.ResetToken}}">
<label>New password<input type="password" name="password" autocomplete="new-password" required minlength="{{.MinLength}}"></label>
<button type="submit">Set password</button></form>{{end}}
{{if .Continue}}<p><a href="{{.Continue}}">Continue</a></p>{{end}}
</body></html>`))

type page struct {
	Title, Message, Error string
	ResetToken, Action    string
	MinLength             int
	Continue              string
}

func writePage(w http.ResponseWriter, status int, p page) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	return pageTemplate.Execute(w, p)
}

// finish ends a link page: with auth.site_url set it redirects there with
// the outcome in the fragment (never sent to servers, never logged);
// otherwise it renders a page saying what happened.
func (s *Service) finish(w http.ResponseWriter, r *http.Request, kind string, err error, tokens *Tokens, okTitle, okMessage string) error {
	return s.finishTo(w, r, s.cfg.SiteURL, kind, err, tokens, okTitle, okMessage)
}

// finishTo is finish with the app URL given (OAuth has its own).
func (s *Service) finishTo(w http.ResponseWriter, r *http.Request, target, kind string, err error, tokens *Tokens, okTitle, okMessage string) error {
	if target != "" {
		frag := url.Values{"type": {kind}}
		if err != nil {
			e := apierror.As(err)
			frag.Set("error", e.Code)
			frag.Set("error_description", e.Message)
		} else {
			frag.Set("status", "ok")
			if tokens != nil {
				frag.Set("access_token", tokens.AccessToken)
				frag.Set("refresh_token", tokens.RefreshToken)
				frag.Set("token_type", tokens.TokenType)
				frag.Set("expires_in", strconv.Itoa(tokens.ExpiresIn))
				frag.Set("expires_at", strconv.FormatInt(tokens.ExpiresAt, 10))
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		http.Redirect(w, r, siteURLWithFragment(target, frag.Encode()), http.StatusSeeOther)
		return nil
	}
	if err != nil {
		e := apierror.As(err)
		if e.Status >= 500 {
			return err
		}
		return writePage(w, e.Status, page{Title: "This link did not work", Error: e.Message, Message: e.Hint})
	}
	return writePage(w, http.StatusOK, page{Title: okTitle, Message: okMessage})
}

func siteURLWithFragment(site, frag string) string {
	u, err := url.Parse(site)
	if err != nil {
		return site
	}
	u.Fragment = ""
	u.RawFragment = ""
	return u.String() + "#" + frag
}
