package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandler(t *testing.T) {
	birds := []bird{{Name: "Robin"}, {Name: "Wren"}}
	srv := httptest.NewServer(handler(birds))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bird
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	if b.Name != "Robin" && b.Name != "Wren" {
		t.Fatalf("got %+v", b)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal("no CORS header")
	}
}
