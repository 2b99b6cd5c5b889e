module birds

go 1.22
