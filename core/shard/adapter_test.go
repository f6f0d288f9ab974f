package shard

import (
	"errors"
	"strings"
	"testing"
)

// peftConfig is adapter_config.json as PEFT 0.13 writes it.
const peftConfig = `{
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "enmp-lab/vision-backbone",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 4,
  "rank_pattern": {},
  "revision": null,
  "target_modules": ["qkv", "proj"],
  "task_type": null,
  "use_dora": false,
  "use_rslora": false
}`

func TestParseAdapterConfig(t *testing.T) {
	c, err := ParseAdapterConfig([]byte(peftConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.R != 4 || c.LoRAAlpha != 16 || c.Scale() != 4 || c.LoRADropout != 0.05 || len(c.TargetModules) != 2 ||
		c.BaseModelNameOrPath != "enmp-lab/vision-backbone" || c.Bias != "none" || !c.InferenceMode {
		t.Errorf("parsed %+v", c)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"peft_type": "LORA"`, `"r": 4`, `"lora_alpha": 16`, `"rank_pattern": {}`, `"modules_to_save": null`, `"use_dora": false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, b)
		}
	}
	c2, err := ParseAdapterConfig(b)
	if err != nil || c2.Scale() != c.Scale() {
		t.Errorf("round trip: %+v, %v", c2, err)
	}
}

func TestParseAdapterConfigRefuses(t *testing.T) {
	edit := func(old, new string) []byte {
		if !strings.Contains(peftConfig, old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(peftConfig, old, new, 1))
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{edit(`"use_dora": false`, `"use_dora": true`), "DoRA adapters are unsupported"},
		{edit(`"use_rslora": false`, `"use_rslora": true`), "rank-stabilised LoRA scaling is unsupported"},
		{edit(`"peft_type": "LORA"`, `"peft_type": "IA3"`), `peft_type "IA3" is unsupported`},
		{edit(`"r": 4`, `"r": 0`), "r is 0, must be positive"},
		{edit(`"r": 4`, `"r": -2`), "r is -2"},
		{edit(`"lora_alpha": 16`, `"lora_alpha": 0`), "lora_alpha is 0"},
		{edit(`"lora_dropout": 0.05`, `"lora_dropout": 1`), "lora_dropout is 1"},
		{edit(`"bias": "none"`, `"bias": "some"`), `bias "some"`},
		{edit(`["qkv", "proj"]`, `".*qkv"`), "regular expression"},
		{edit(`["qkv", "proj"]`, `[]`), "target_modules is empty"},
		{edit(`"rank_pattern": {}`, `"rank_pattern": {"qkv": 8}`), "rank_pattern is unsupported"},
		{edit(`"alpha_pattern": {}`, `"alpha_pattern": {"qkv": 8}`), "alpha_pattern is unsupported"},
		{edit(`"r": 4`, `"r": "4"`), "cannot unmarshal string"},
		{edit(`"r": 4`, `"r": 4, "r": 8`), `duplicate key "r"`},
		{[]byte(`{`), "malformed JSON"},
	} {
		_, err := ParseAdapterConfig(c.b)
		var ae *AdapterError
		if err == nil || !errors.As(err, &ae) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "adapter_config.json") {
			t.Errorf("error %v, want *AdapterError saying %q", err, c.want)
		}
	}
}
