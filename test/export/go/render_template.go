// Renders Ollama TEMPLATEs with Go's text/template, which Ollama uses: reads
// [{"template": "...", "messages": [{"role": ..., "content": ...}]}] from stdin and prints a JSON
// array of the rendered strings (or {"error": ...} for a template that fails).
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Case struct {
	Template string    `json:"template"`
	Messages []Message `json:"messages"`
}

// The fields Ollama's template data offers that these templates may read.
type Values struct {
	Messages []Message
	System   string
	Prompt   string
	Response string
}

func main() {
	var cases []Case
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := make([]interface{}, len(cases))
	for i, c := range cases {
		t, err := template.New("").Option("missingkey=zero").Parse(c.Template)
		if err != nil {
			out[i] = map[string]string{"error": err.Error()}
			continue
		}
		var b strings.Builder
		if err := t.Execute(&b, Values{Messages: c.Messages}); err != nil {
			out[i] = map[string]string{"error": err.Error()}
			continue
		}
		out[i] = b.String()
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
