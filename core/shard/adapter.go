package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// AdapterConfig is a PEFT adapter_config.json for a LoRA adapter, with the
// JSON names PEFT writes. Fields PEFT writes that this package does not
// use are ignored when parsing.
type AdapterConfig struct {
	PEFTType            string             `json:"peft_type"` // "LORA"
	BaseModelNameOrPath string             `json:"base_model_name_or_path"`
	TaskType            string             `json:"task_type,omitempty"` // e.g. "FEATURE_EXTRACTION"; omitted (None) when empty
	InferenceMode       bool               `json:"inference_mode"`
	R                   int                `json:"r"`
	LoRAAlpha           float64            `json:"lora_alpha"`
	LoRADropout         float64            `json:"lora_dropout"`
	TargetModules       []string           `json:"target_modules"`
	FanInFanOut         bool               `json:"fan_in_fan_out"` // weights stored (in, out) instead of (out, in)
	Bias                string             `json:"bias"`           // "none", "all" or "lora_only"
	UseRSLoRA           bool               `json:"use_rslora"`
	UseDoRA             bool               `json:"use_dora"`
	ModulesToSave       []string           `json:"modules_to_save"`
	RankPattern         map[string]int     `json:"rank_pattern"`
	AlphaPattern        map[string]float64 `json:"alpha_pattern"`
}

// AdapterError reports an invalid or unsupported adapter_config.json.
type AdapterError struct {
	Problem string
}

func (e *AdapterError) Error() string { return "shard: adapter_config.json: " + e.Problem }

func adapterErr(format string, args ...any) error {
	return &AdapterError{Problem: fmt.Sprintf(format, args...)}
}

// ParseAdapterConfig parses a PEFT adapter_config.json and checks that this
// project can apply it: peft_type must be "LORA", r positive, lora_alpha
// positive, lora_dropout in [0, 1), bias one of PEFT's values and
// target_modules a non-empty list. DoRA, rsLoRA, target_modules given as a
// regular expression and per-module rank_pattern or alpha_pattern are
// unsupported and rejected. Errors are *AdapterError.
func ParseAdapterConfig(b []byte) (*AdapterConfig, error) {
	if err := checkJSON(b); err != nil {
		return nil, adapterErr("malformed JSON: %v", err)
	}
	var probe struct {
		TargetModules json.RawMessage `json:"target_modules"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, adapterErr("%v", err)
	}
	if t := bytes.TrimSpace(probe.TargetModules); len(t) > 0 && t[0] == '"' {
		return nil, adapterErr("target_modules given as a regular expression %s is unsupported; list the module names", t)
	}
	var c AdapterConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, adapterErr("%v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks c as ParseAdapterConfig does.
func (c *AdapterConfig) Validate() error {
	switch {
	case c.PEFTType != "LORA":
		return adapterErr("peft_type %q is unsupported, only \"LORA\"", c.PEFTType)
	case c.R <= 0:
		return adapterErr("r is %d, must be positive", c.R)
	case !(c.LoRAAlpha > 0) || math.IsInf(c.LoRAAlpha, 0):
		return adapterErr("lora_alpha is %v, must be positive and finite", c.LoRAAlpha)
	case !(c.LoRADropout >= 0 && c.LoRADropout < 1):
		return adapterErr("lora_dropout is %v, must be in [0, 1)", c.LoRADropout)
	case c.UseDoRA:
		return adapterErr("use_dora is set: DoRA adapters are unsupported")
	case c.UseRSLoRA:
		return adapterErr("use_rslora is set: rank-stabilised LoRA scaling is unsupported")
	case len(c.TargetModules) == 0:
		return adapterErr("target_modules is empty")
	case len(c.RankPattern) > 0:
		return adapterErr("rank_pattern is unsupported: all modules must share r")
	case len(c.AlphaPattern) > 0:
		return adapterErr("alpha_pattern is unsupported: all modules must share lora_alpha")
	}
	switch c.Bias {
	case "none", "all", "lora_only":
	default:
		return adapterErr("bias %q, want \"none\", \"all\" or \"lora_only\"", c.Bias)
	}
	return nil
}

// Scale returns the factor LoRA multiplies B·A by: lora_alpha / r.
func (c *AdapterConfig) Scale() float64 { return c.LoRAAlpha / float64(c.R) }

// Marshal validates c and returns it as indented JSON with a final newline,
// in field order, writing nil patterns as {} as PEFT does.
func (c *AdapterConfig) Marshal() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	x := *c
	if x.RankPattern == nil {
		x.RankPattern = map[string]int{}
	}
	if x.AlphaPattern == nil {
		x.AlphaPattern = map[string]float64{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&x); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
