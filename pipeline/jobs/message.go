package jobs

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/midata/midata/pipeline/topics"
)

// marshalRequest encodes req as the value of its requests-topic message.
func marshalRequest(req Request) ([]byte, error) {
	v, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request %s: %w", req.ID, err)
	}
	return v, nil
}

// DecodeRequest decodes a message of the requests topic: the JSON of a
// Request whose id is the message key.
func DecodeRequest(topic string, m topics.Message) (Request, error) {
	var req Request
	if err := json.Unmarshal(m.Value, &req); err != nil {
		return Request{}, fmt.Errorf("decode request at %s/%d/%d: %w", topic, m.Partition, m.Offset, err)
	}
	switch {
	case req.ID == "":
		return Request{}, fmt.Errorf("decode request at %s/%d/%d: %w", topic, m.Partition, m.Offset, errors.New("no id"))
	case req.ID != string(m.Key):
		return Request{}, fmt.Errorf("decode request at %s/%d/%d: id %q under key %q", topic, m.Partition, m.Offset, req.ID, m.Key)
	case req.Retry < 0:
		return Request{}, fmt.Errorf("decode request at %s/%d/%d: negative retry %d", topic, m.Partition, m.Offset, req.Retry)
	}
	return req, nil
}
