-- 0003_photo_video_codec: the codec of a video's first video stream (h264, hevc, vp9...).
ALTER TABLE photos ADD COLUMN video_codec TEXT NOT NULL DEFAULT '';
