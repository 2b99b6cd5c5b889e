console.log(`post sees [${process.env['STATE_from-pre']}] [${process.env['STATE_from-main']}]`);
