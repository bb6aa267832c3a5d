package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"
)

// Built-in template names.
const (
	TemplateVerify      = "verify_email"
	TemplateReset       = "password_reset"
	TemplateMagicLink   = "magic_link"
	TemplateEmailChange = "email_change"
)

//go:embed templates
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.ParseFS(templateFS, "templates/*.txt"))
	htmlTemplates = htmltemplate.Must(htmltemplate.ParseFS(templateFS, "templates/*.html"))
	subjects      = map[string]string{
		TemplateVerify:      "Confirm your email address",
		TemplateReset:       "Reset your password",
		TemplateMagicLink:   "Your sign-in link",
		TemplateEmailChange: "Confirm your new email address",
	}
)

// Data is what every template may use. Vars carries extra values for
// templates stored in the database later.
type Data struct {
	Email    string
	Link     string
	SiteName string
	// ExpiresIn is human text ("1 hour").
	ExpiresIn string
	Vars      map[string]any
}

// Render is the one function that turns a template name and data into a
// message (subject, plain text and HTML). Database-stored templates can take
// over here later without touching the callers.
func Render(name, to string, d Data) (Message, error) {
	subject, ok := subjects[name]
	if !ok {
		return Message{}, fmt.Errorf("mail: no template %q", name)
	}
	if d.SiteName == "" {
		d.SiteName = "AYB"
	}
	var text, html bytes.Buffer
	if err := textTemplates.ExecuteTemplate(&text, name+".txt", d); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", name, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html", d); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", name, err)
	}
	return Message{To: to, Subject: subject, Text: text.String(), HTML: html.String()}, nil
}
