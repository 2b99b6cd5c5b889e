// Package web is runner serve's browser UI: plain HTML, CSS and a little
// JavaScript embedded in the binary, talking to the JSON API. No build step.
package web
