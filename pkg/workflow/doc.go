// Package workflow parses and validates GitHub Actions workflow files and
// plans their job graph. It keeps the position of every value so that each
// problem is reported as FILE:LINE:COL. It runs nothing: pkg/run does.
package workflow
